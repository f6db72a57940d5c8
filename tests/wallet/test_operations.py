"""Wallet operations through the real driver on emulated wristbands (in-process reader)."""

from __future__ import annotations

import pytest

from terminal.nfc.emulator import ClassicEmulator
from terminal.nfc.ntag import identify
from terminal.wallet.card import UnsupportedCard
from terminal.wallet.operations import TapAgain
from terminal.wallet.rules import Declined, Limits
from tests.wallet.conftest import Till, make_till


def issued(till: Till, amount: int = 5000, product: str = "NTAG215"):
    card = till.new_card(product)
    out = till.wallet.issue(till.tap(card), amount, method="cash", operator="cashier-1")
    return card, out.state.card_id


def test_full_life_of_a_wristband_keeps_the_books(till: Till) -> None:
    card, card_id = issued(till, 5000)
    assert till.wallet.read(till.tap(card)).balance == 5000
    till.wallet.topup(till.tap(card), 2000, method="card", operator="c1")
    sale = till.wallet.charge(till.tap(card), 1250, items=[{"sku": "beer", "name": "Beer", "qty": 2,
                                                              "unit_price": 625}], operator="v1")
    assert (sale.balance_before, sale.balance_after) == (7000, 5750)
    void = till.wallet.void(till.tap(card), operator="sup")
    assert void.balance_after == 7000 and void.entry["data"]["voids"] == sale.entry["seq"]
    till.wallet.charge(till.tap(card), 300)
    close = till.wallet.close(till.tap(card), operator="c1")
    assert close.amount == 6700 and close.extra["refund"] == 6700
    with pytest.raises(Declined) as exc:
        till.wallet.charge(till.tap(card), 100)
    assert exc.value.code == "closed"
    assert till.wallet.read(till.tap(card)).status == "closed"  # still readable at the cashier
    assert till.journal_balance(card_id) == 0
    assert till.wallet.journal.verify_chain() > 0
    assert not till.wallet.pending()


def test_read_shows_balance_status_and_on_card_history(till: Till) -> None:
    card, _ = issued(till, 1000)
    till.wallet.topup(till.tap(card), 500)
    till.wallet.charge(till.tap(card), 200)
    state = till.wallet.read(till.tap(card))
    assert state.balance == 1300 and state.status == "active"
    assert [(h.op, h.amount, h.balance) for h in state.history] == [
        ("sale", 200, 1300), ("topup", 500, 1500), ("issue", 1000, 1000)]


def test_insufficient_funds_writes_nothing_and_is_journaled(till: Till) -> None:
    card, card_id = issued(till, 500)
    before = card.snapshot()
    with pytest.raises(Declined) as exc:
        till.wallet.charge(till.tap(card), 800)
    assert exc.value.code == "insufficient_funds" and exc.value.missing == 300
    assert card.snapshot()[:160] == before[:160]
    declines = [e for e in till.wallet.journal.entries(card_id=card_id) if e["op"] == "decline"]
    assert declines[-1]["data"]["code"] == "insufficient_funds"
    assert till.journal_balance(card_id) == 500


def test_limits(tmp_path) -> None:
    till = make_till(tmp_path, limits=Limits(max_balance=3000, max_sale=1000, void_window_s=60))
    card, _ = issued(till, 2500)
    with pytest.raises(Declined) as exc:
        till.wallet.topup(till.tap(card), 600)
    assert exc.value.code == "over_max_balance"
    with pytest.raises(Declined) as exc:
        till.wallet.charge(till.tap(card), 1001)
    assert exc.value.code == "over_max_sale"
    till.wallet.charge(till.tap(card), 1000)
    till.clock.now += 61
    with pytest.raises(Declined) as exc:
        till.wallet.void(till.tap(card))
    assert exc.value.code == "void_window_passed"


def test_void_needs_last_sale_made_here(tmp_path) -> None:
    a = make_till(tmp_path, terminal_id=1)
    b = make_till(tmp_path, terminal_id=2, master_key=a.master_key, db_name="b.db")
    card, _ = issued(a, 3000)
    b.wallet.charge(b.tap(card), 100)
    with pytest.raises(Declined) as exc:
        a.wallet.void(a.tap(card))
    assert exc.value.code == "void_other_terminal"
    a.wallet.topup(a.tap(card), 100)
    with pytest.raises(Declined) as exc:
        a.wallet.void(a.tap(card))
    assert exc.value.code == "nothing_to_void"


def test_hotlisted_card_is_refused(till: Till) -> None:
    card, card_id = issued(till)
    till.wallet.hotlist.add(card_id, "lost")
    with pytest.raises(Declined) as exc:
        till.wallet.charge(till.tap(card), 100)
    assert exc.value.code == "blocked" and "lost" in exc.value.message


def test_card_of_another_event_is_named_as_such(tmp_path, till: Till) -> None:
    from terminal.wallet.journal import open_journal
    from terminal.wallet.operations import Wallet

    card, _ = issued(till)
    other = Wallet(journal=open_journal(tmp_path / "other.db", terminal_id=1, event_id="other-fest", currency="EUR"),
                   master_key=till.master_key, event_id="other-fest", terminal_id=1)
    with pytest.raises(Declined) as exc:
        other.charge(till.tap(card), 100)
    assert exc.value.code == "wrong_event"


def test_blank_and_unknown_cards(till: Till) -> None:
    blank = till.new_card()
    with pytest.raises(Declined) as exc:
        till.wallet.read(till.tap(blank))
    assert exc.value.code == "blank"
    till.reader.remove()
    till.reader.place(ClassicEmulator())
    with pytest.raises(UnsupportedCard, match="MIFARE Classic"):
        identify(till.reader.wait_for_card(0))


def test_issued_card_is_password_protected_against_rewrites(till: Till) -> None:
    card, _ = issued(till)
    tag = till.tap(card)
    from terminal.wallet.card import CardAuthError, CardError

    with pytest.raises((CardAuthError, CardError)):
        tag.write_page(8, b"\x00\x00\x00\x00")
    assert till.wallet.read(till.tap(card)).balance == 5000


def test_issue_twice_is_refused(till: Till) -> None:
    card, _ = issued(till)
    with pytest.raises(Declined) as exc:
        till.wallet.issue(till.tap(card), 100)
    assert exc.value.code == "already_issued"


@pytest.mark.parametrize("product", ["NTAG213", "NTAG216", "MF0UL21"])
def test_other_supported_chips(till: Till, product: str) -> None:
    card, card_id = issued(till, 1000, product)
    till.wallet.charge(till.tap(card), 400)
    till.wallet.topup(till.tap(card), 100)
    assert till.wallet.read(till.tap(card)).balance == 700 == till.journal_balance(card_id)


def test_too_small_chip_is_refused(till: Till) -> None:
    card = till.new_card("MF0UL11")
    with pytest.raises(UnsupportedCard, match="too small"):
        till.wallet.issue(till.tap(card), 100)


def test_card_pulled_mid_sale_settles_at_next_tap(till: Till) -> None:
    card, card_id = issued(till, 1000)
    card.tear_after(5, partial_bytes=2)
    with pytest.raises(TapAgain):
        till.wallet.charge(till.tap(card), 300)
    assert len(till.wallet.pending()) == 1
    state = till.wallet.read(till.tap(card))
    assert not till.wallet.pending()
    assert state.balance == till.journal_balance(card_id)
    assert [e["phase"] for e in state.resolved] in (["commit"], ["abort"])


def test_ultralight_ev1_counter_catches_a_restored_image(till: Till, tmp_path) -> None:
    card, _ = issued(till, 1000, "MF0UL21")
    old = card.snapshot()
    till.wallet.charge(till.tap(card), 400)
    # An attacker restores the memory, but a one-way counter cannot go back.
    n = card.spec.pages * 4
    card.restore(old[:n] + card.snapshot()[n:])
    # A terminal that never saw this card: only the chip's counter can tell.
    fresh = make_till(tmp_path, master_key=till.master_key, terminal_id=9, db_name="fresh.db")
    with pytest.raises(Declined) as exc:
        fresh.wallet.charge(fresh.tap(card), 100)
    assert exc.value.code == "rollback"


def test_replacement_moves_the_ledger_balance_and_blocks_the_old_card(till: Till) -> None:
    lost, lost_id = issued(till, 4000)
    till.wallet.topup(till.tap(lost), 500, method="comp")
    new = till.new_card()
    out = till.wallet.replace(till.tap(new), old_card_id=lost_id, balance=4500, comp=500, operator="cashier")
    assert out.op == "replace" and out.balance_after == 4500 and out.entry["data"]["replaces"] == lost_id
    state = till.wallet.read(till.tap(new))
    assert (state.balance, state.record.comp, state.record.refundable) == (4500, 500, 4000)
    with pytest.raises(Declined) as exc:
        till.wallet.charge(till.tap(lost), 100)
    assert exc.value.code == "blocked" and "replaced" in exc.value.message
    with pytest.raises(Declined):
        till.wallet.replace(till.tap(till.new_card()), old_card_id=lost_id, balance=100, comp=200)
