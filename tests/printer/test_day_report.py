from __future__ import annotations

from datetime import UTC, datetime

import pytest

from terminal.printer.day_report import day_report
from terminal.printer.journal_receipts import ReceiptDataError
from terminal.printer.receipt import Header
from terminal.printer.samples import sample_journal

HEADER = Header(vendor="V", terminal_id=3)


def test_totals_and_counts_from_the_sample_day() -> None:
    r = day_report(sample_journal(), HEADER)
    c = r.counts
    assert (c.sales, c.voids, c.topups, c.refunds, c.issues, c.declines) == (3, 1, 2, 1, 1, 1)
    assert (r.sales_total, r.voids_total, r.net_sales) == (2900, 1150, 1750)
    assert (r.topups_total, r.refunds_total) == (7000, 950)
    products = {t.key: (t.count, t.amount) for t in r.by_product}
    assert products == {"P0": (2, 700), "P2": (3, 1050)}  # the voided sale's wrap and lemonade are gone
    assert sum(t.amount for t in r.by_product) == r.net_sales
    assert {t.key: t.amount for t in r.topups_by_method} == {"cash": 5000, "card": 2000}
    assert {t.key: t.amount for t in r.sales_by_method} == {"card": 1750}
    assert (r.first_transaction, r.last_transaction) == ("3-1", "3-9")
    assert r.first_time == datetime(2026, 7, 18, 9, 7, tzinfo=UTC)


def test_only_commits_of_this_terminal_in_the_window_count() -> None:
    rows = sample_journal()
    other = [dict(e, terminal_id=4, seq=e["seq"] + 100) for e in rows]
    aborted = dict(rows[3], seq=50, phase="abort", amount=99999)
    r = day_report([*rows, *other, aborted], HEADER, start=datetime(2026, 7, 18, 9, 25, tzinfo=UTC))
    assert r.counts.sales == 3 and r.sales_total == 2900
    assert r.counts.topups == 0  # both top-ups were before 09:25
    assert r.first_transaction == "3-4"


def test_commit_takes_items_from_its_intent_and_void_may_name_the_intent() -> None:
    base = {"terminal_id": 3, "event_id": "e", "clock_synced": True, "operator": None, "card_id": 1, "uid": None,
            "card_seq": 1, "balance_before": None, "balance_after": None, "currency": "EUR", "method": None,
            "data": {}, "prev_hash": "", "hash": ""}
    t = "2026-07-18T10:00:00Z"
    rows = [
        dict(base, seq=1, time=t, op="sale", phase="intent", ref=None, amount=500,
             items=[{"sku": "B", "name": "Beer", "qty": 2, "unit_price": 250}]),
        dict(base, seq=2, time=t, op="sale", phase="commit", ref=1, amount=500, items=[]),
        dict(base, seq=3, time=t, op="sale", phase="intent", ref=None, amount=250,
             items=[{"sku": "B", "name": "Beer", "qty": 1, "unit_price": 250}]),
        dict(base, seq=4, time=t, op="sale", phase="commit", ref=3, amount=250, items=[]),
        dict(base, seq=5, time=t, op="void", phase="commit", ref=None, amount=250, items=[], data={"voids": 3}),
    ]
    r = day_report(rows, HEADER)
    assert [(t.key, t.count, t.amount) for t in r.by_product] == [("B", 2, 500)]
    assert r.net_sales == 500


def test_an_empty_day_and_mixed_currencies() -> None:
    r = day_report([], HEADER)
    assert r.counts.sales == 0 and r.first_transaction is None and r.by_product == ()
    rows = sample_journal()
    rows[1] = dict(rows[1], currency="BGN")
    with pytest.raises(ReceiptDataError, match="mixes currencies"):
        day_report(rows, HEADER)


def test_bad_time_is_a_clear_error() -> None:
    rows = sample_journal()
    rows[0] = dict(rows[0], time="yesterday")
    with pytest.raises(ReceiptDataError, match="not an ISO-8601 time"):
        day_report(rows, HEADER)


def _entry(seq: int, op: str, amount: int, *, operator: str = "anna", method: str | None = None,
           face: bool = False, data: dict | None = None) -> dict:
    card = None if face else 7
    return {"seq": seq, "terminal_id": 3, "event_id": "e", "time": "2026-07-18T10:00:00Z", "clock_synced": True,
            "operator": operator, "op": op, "phase": "commit", "ref": None, "card_id": card, "uid": None,
            "card_seq": None, "amount": amount, "balance_before": None, "balance_after": None, "currency": "EUR",
            "method": method, "items": [], "prev_hash": "", "hash": "",
            "data": {**({"face_account": "F1"} if face else {}), **(data or {})}}


def test_every_total_is_the_sum_of_its_breakdown_and_cash_is_what_the_drawer_holds() -> None:
    rows = [
        _entry(1, "issue", 2000, method="cash"),
        _entry(2, "issue", 0, method="cash"),  # a card issued empty moves no money
        _entry(3, "topup", 1000, method="card", operator="ben"),
        _entry(4, "topup", 500, method="cash", operator="ben"),
        _entry(5, "topup", 3000, method="cash", face=True),
        _entry(6, "topup", 700, method="voucher", face=True, operator="ben"),
        _entry(7, "sale", 450, operator="ben"),
        _entry(8, "sale", 300),
        _entry(9, "void", 300, data={"voids": 8}),
        _entry(10, "sale", 1200, face=True),
        _entry(11, "close", 800, method="cash", operator="ben"),
        _entry(12, "close", 1900, method="cash", face=True),
        _entry(13, "close", 100, method="card"),
        _entry(14, "close", 600, method="cash", data={"refund": 400, "forfeited_comp": 200}),
    ]
    r = day_report(rows, HEADER)
    c = r.counts

    def total(rows: tuple) -> tuple[int, int]:
        return sum(t.count for t in rows), sum(t.amount for t in rows)

    assert (c.topups, r.topups_total) == (5, 7200)
    assert total(r.topups_by_method + r.face_topups_by_method) == (c.topups, r.topups_total)
    assert {t.key: t.amount for t in r.face_topups_by_method} == {"cash": 3000, "voucher": 700}
    assert (c.refunds, r.refunds_total) == (4, 3200)  # forfeited complimentary credit is not paid out
    assert total(r.refunds_by_method + r.face_refunds_by_method) == (c.refunds, r.refunds_total)
    assert {t.key: (t.count, t.amount) for t in r.sales_by_method} == {"card": (1, 450), "face": (1, 1200)}
    assert sum(t.amount for t in r.sales_by_method) == r.net_sales == 1650
    assert (c.sales, c.voids, c.issues) == (3, 1, 2)
    assert r.expected_cash == 2000 + 500 + 3000 - 800 - 1900 - 400
    ops = {o.operator: o for o in r.by_operator}
    assert set(ops) == {"anna", "ben"}
    assert (ops["anna"].topups.count, ops["anna"].topups.amount) == (2, 5000)
    assert (ops["ben"].sales.count, ops["ben"].sales.amount, ops["ben"].refunds.amount) == (1, 450, 800)
    assert (ops["anna"].voids.count, ops["anna"].refunds.amount) == (1, 2400)
    for name in ("sales", "topups", "refunds", "voids"):
        assert sum(getattr(o, name).count for o in r.by_operator) == {
            "sales": c.sales, "topups": c.topups, "refunds": c.refunds, "voids": c.voids}[name]
