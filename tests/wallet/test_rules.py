"""Business rules on plain values: limits, funds, voids, complimentary credit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.wallet import rules
from terminal.wallet.purse import Op, Record
from terminal.wallet.rules import Declined, Limits

LIMITS = Limits(max_balance=10_000, max_sale=5_000, void_window_s=300)


def rec(balance: int, op: Op = Op.TOPUP, seq: int = 3, comp: int = 0, terminal: int = 1, time: int = 1000) -> Record:
    return Record(seq=seq, balance=balance, spent=0, comp=comp, time=time, terminal=terminal, op=op)


def test_insufficient_funds_says_how_much_is_missing() -> None:
    with pytest.raises(Declined) as exc:
        rules.check_sale(rec(300), 450, LIMITS, "EUR")
    assert exc.value.code == "insufficient_funds"
    assert exc.value.missing == 150
    assert "€1.50 missing" in exc.value.message


@pytest.mark.parametrize(("amount", "code"), [(0, "invalid_amount"), (-5, "invalid_amount"), (5_001, "over_max_sale"),
                                              (1.5, "invalid_amount"), (True, "invalid_amount")])
def test_sale_amount_rules(amount: object, code: str) -> None:
    with pytest.raises(Declined) as exc:
        rules.check_sale(rec(9_000), amount, LIMITS, "EUR")  # type: ignore[arg-type]
    assert exc.value.code == code


def test_closed_card_is_refused_for_everything() -> None:
    closed = rec(0, op=Op.CLOSE)
    for check in (lambda: rules.check_sale(closed, 1, LIMITS, "EUR"),
                  lambda: rules.check_topup(closed, 1, "cash", LIMITS, "EUR")):
        with pytest.raises(Declined) as exc:
            check()
        assert exc.value.code == "closed"


def test_topup_respects_max_balance_and_methods() -> None:
    with pytest.raises(Declined) as exc:
        rules.check_topup(rec(9_500), 600, "cash", LIMITS, "EUR")
    assert exc.value.code == "over_max_balance" and "€5.00" in exc.value.message
    with pytest.raises(Declined) as exc:
        rules.check_topup(rec(0), 100, "bitcoin", LIMITS, "EUR")
    assert exc.value.code == "invalid_method"
    rules.check_topup(rec(9_400), 600, "cash", LIMITS, "EUR")


def test_void_only_last_sale_here_within_window() -> None:
    sale = rec(700, op=Op.SALE, seq=4, terminal=1, time=1000)
    before = rec(1000, seq=3)
    rules.check_void(sale, before, terminal_id=1, sale_time=1000, sale_amount=300, now=1200, limits=LIMITS)
    cases = [
        (dict(terminal_id=2, sale_time=1000, sale_amount=300, now=1200), "void_other_terminal"),
        (dict(terminal_id=1, sale_time=1000, sale_amount=300, now=1301), "void_window_passed"),
        (dict(terminal_id=1, sale_time=1000, sale_amount=None, now=1200), "nothing_to_void"),
    ]
    for kwargs, code in cases:
        with pytest.raises(Declined) as exc:
            rules.check_void(sale, before, limits=LIMITS, **kwargs)  # type: ignore[arg-type]
        assert exc.value.code == code
    with pytest.raises(Declined):
        rules.check_void(rec(1000), before, terminal_id=1, sale_time=1000, sale_amount=300, now=1200, limits=LIMITS)


def test_complimentary_credit_is_spent_first_and_never_refunded() -> None:
    r = rules.plan_issue(1000, "cash", now=1, terminal_id=1)
    r = rules.plan_topup(r, 500, "comp", now=2, terminal_id=1)
    assert (r.balance, r.comp, r.refundable) == (1500, 500, 1000)
    r = rules.plan_sale(r, 300, now=3, terminal_id=1)
    assert (r.balance, r.comp, r.refundable) == (1200, 200, 1000)
    r = rules.plan_sale(r, 400, now=4, terminal_id=1)
    assert (r.balance, r.comp, r.refundable) == (800, 0, 800)


@given(st.lists(st.tuples(st.sampled_from(["topup", "comp", "sale"]), st.integers(1, 3000)), max_size=40))
def test_planned_records_keep_the_card_books(ops: list[tuple[str, int]]) -> None:
    """balance = loaded - spent at every step, comp never above balance's reach, seq strictly up."""
    r = rules.plan_issue(0, "cash", now=0, terminal_id=1)
    loaded = 0
    for kind, amount in ops:
        try:
            if kind == "sale":
                rules.check_sale(r, amount, LIMITS, "EUR")
                nxt = rules.plan_sale(r, amount, now=0, terminal_id=1)
            else:
                rules.check_topup(r, amount, "comp" if kind == "comp" else "cash", LIMITS, "EUR")
                nxt = rules.plan_topup(r, amount, "comp" if kind == "comp" else "cash", now=0, terminal_id=1)
                loaded += amount
        except Declined:
            continue
        assert nxt.seq == r.seq + 1
        r = nxt
        assert r.balance == loaded - r.spent
        assert 0 <= r.refundable <= r.balance <= LIMITS.max_balance
