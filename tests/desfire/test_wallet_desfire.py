"""The wallet on DESFire: issued at a cashier, spent at a vendor stall, the card enforcing who may credit."""

from __future__ import annotations

import pytest

from terminal.nfc.desfire import MAC, DesfireAccessDenied, DesfireError
from terminal.nfc.desfire_purse import KEY_NO, PURSE_FILE
from terminal.nfc.emulator import DesfireEmulator
from terminal.wallet.desfire_keys import card_key, event_aid, open_master_key
from terminal.wallet.operations import TapAgain
from terminal.wallet.rules import Declined
from tests.desfire.conftest import EVENT, Event


def test_issue_charge_topup_void_close(event: Event) -> None:
    card = DesfireEmulator("DESFIRE_EV3")
    issued = event.cashier.wallet.issue(event.cashier.tap(card), 5_000, method="cash", operator="cash-1")
    card_id = issued.state.card_id
    assert issued.balance_after == 5_000 and issued.state.product == "DESFIRE_EV3"
    app = card.app(event_aid(EVENT))
    assert app.files[PURSE_FILE].value == 5_000 and app.files[PURSE_FILE].upper == 50_000

    tag = event.vendor.tap(card)
    sale = event.vendor.wallet.charge(tag, 1_250, items=[{"sku": "b", "name": "Beer", "qty": 1, "unit_price": 1_250}])
    assert sale.balance_after == 3_750 and tag.exchanges == 8
    voided = event.vendor.wallet.void(event.vendor.tap(card))
    assert voided.balance_after == 5_000
    event.vendor.wallet.charge(event.vendor.tap(card), 500)
    topped = event.cashier.wallet.topup(event.cashier.tap(card), 2_000, method="comp")
    assert topped.balance_after == 6_500 and topped.state.record.comp == 2_000
    state = event.vendor.wallet.read(event.vendor.tap(card))
    assert [h.op for h in state.history] == ["topup", "sale", "void", "sale"]
    event.vendor.wallet.charge(event.vendor.tap(card), 1_000)  # complimentary credit is spent first
    closed = event.cashier.wallet.close(event.cashier.tap(card))
    assert closed.extra == {"refund": 4_500, "forfeited_comp": 1_000} and closed.balance_after == 0
    with pytest.raises(Declined) as refused:
        event.vendor.wallet.charge(event.vendor.tap(card), 100)
    assert refused.value.code == "closed"
    assert app.files[PURSE_FILE].value == 0
    books = event.cashier.journal_balance(card_id) + event.vendor.journal_balance(card_id)
    assert books == 0 and event.cashier.wallet.pending() == [] and event.vendor.wallet.pending() == []
    # the card's application master key is escrowed for the organizer only
    intent = next(e for e in event.cashier.wallet.journal.entries() if e["op"] == "issue")
    amk = open_master_key(event.full_keys["escrow_private"], intent["data"]["amk_sealed"], card_id)
    assert app.keys[0] == amk and amk != bytes(16)


def test_a_vendor_terminal_cannot_issue_or_top_up(event: Event) -> None:
    card = DesfireEmulator()
    with pytest.raises(Declined) as refused:
        event.vendor.wallet.issue(event.vendor.tap(card), 1_000)
    assert refused.value.code == "no_key" and card.apps == {}
    event.cashier.wallet.issue(event.cashier.tap(card), 1_000)
    with pytest.raises(Declined) as refused:
        event.vendor.wallet.topup(event.vendor.tap(card), 1_000)
    assert refused.value.code == "no_key"


def test_sale_terminal_keys_cannot_credit_or_change_keys_on_the_card(event: Event) -> None:
    """Against the card's own access rules: the sale key set opens sessions that the card refuses to credit."""
    card = DesfireEmulator()
    event.cashier.wallet.issue(event.cashier.tap(card), 1_000)
    sale_keys = event.vendor.wallet.desfire_keys
    assert set(sale_keys) == {"debit", "read", "escrow_public"}
    uid = card.uid
    attempts = [(role, what) for role in ("debit", "read") for what in ("credit", "change_key", "change_amk")]
    for role, what in [*attempts, ("read", "limited_credit"), ("read", "debit")]:
        purse = event.vendor.tap(card)
        key = card_key(sale_keys[role], uid, EVENT)
        purse.open(event_aid(EVENT), role, key)
        with pytest.raises(DesfireAccessDenied):
            if what == "credit":
                purse.card.credit(PURSE_FILE, 1_000, MAC)
            elif what == "limited_credit":
                purse.card.limited_credit(PURSE_FILE, 1, MAC)
            elif what == "debit":
                purse.card.debit(PURSE_FILE, 1, MAC)
            elif what == "change_key":
                purse.card.change_key(KEY_NO["credit"], bytes(16), key)
            else:
                purse.card.change_key(0, bytes(16), key)
    assert card.app(event_aid(EVENT)).files[PURSE_FILE].value == 1_000
    # The debit key's limited credit gives back at most the last debit, once: no money is created.
    purse = event.vendor.tap(card)
    purse.open(event_aid(EVENT), "debit", card_key(sale_keys["debit"], uid, EVENT))
    purse.card.debit(PURSE_FILE, 300, MAC)
    purse.card.commit()
    purse.open(event_aid(EVENT), "debit", card_key(sale_keys["debit"], uid, EVENT))
    with pytest.raises(DesfireError):
        purse.card.limited_credit(PURSE_FILE, 301, MAC)
    assert card.app(event_aid(EVENT)).files[PURSE_FILE].value == 700


def test_refusals_and_upper_limit(event: Event) -> None:
    card = DesfireEmulator()
    with pytest.raises(Declined) as refused:
        event.vendor.wallet.charge(event.vendor.tap(card), 100)
    assert refused.value.code == "blank"
    event.cashier.wallet.issue(event.cashier.tap(card), 49_000)
    with pytest.raises(Declined) as refused:
        event.cashier.wallet.topup(event.cashier.tap(card), 2_000)
    assert refused.value.code == "over_max_balance"
    with pytest.raises(Declined) as refused:
        event.cashier.wallet.issue(event.cashier.tap(card), 100)
    assert refused.value.code == "already_issued"
    with pytest.raises(Declined) as refused:
        event.vendor.wallet.charge(event.vendor.tap(card), 20_001)
    assert refused.value.code == "over_max_sale"


def test_random_uid_card(event: Event) -> None:
    card = DesfireEmulator(random_uid=True)
    issued = event.cashier.wallet.issue(event.cashier.tap(card), 3_000)
    assert issued.state.uid == card.uid
    tag = event.vendor.tap(card)
    assert len(tag.card.reader_uid()) == 4
    sale = event.vendor.wallet.charge(tag, 700)
    assert sale.balance_after == 2_300 and sale.entry["uid"] == card.uid.hex()
    assert tag.exchanges == 9  # the identity file read to learn the real UID before authenticating


def test_replacement_band_carries_the_ledger_balance_and_blocks_the_old_one(event: Event) -> None:
    lost = DesfireEmulator()
    old_id = event.cashier.wallet.issue(event.cashier.tap(lost), 3_000, method="comp").state.card_id
    fresh = DesfireEmulator("DESFIRE_EV3")
    moved = event.cashier.wallet.replace(event.cashier.tap(fresh), old_card_id=old_id, balance=2_500, comp=500)
    assert moved.balance_after == 2_500 and moved.state.record.comp == 500
    assert fresh.app(event_aid(EVENT)).files[PURSE_FILE].value == 2_500
    with pytest.raises(Declined) as refused:
        event.cashier.wallet.charge(event.cashier.tap(lost), 100)
    assert refused.value.code == "blocked"


def test_start_up_recovery_settles_the_band_on_the_reader(event: Event) -> None:
    card = DesfireEmulator()
    event.cashier.wallet.issue(event.cashier.tap(card), 1_000)
    tag = event.vendor.tap(card)
    card.tear_after(8)  # during CommitTransaction, which the card carries out
    with pytest.raises(TapAgain):
        event.vendor.wallet.charge(tag, 400)
    assert len(event.vendor.wallet.pending()) == 1
    assert event.vendor.wallet.recover(event.vendor.tap(card)) == []
    assert [e["phase"] for e in event.vendor.wallet.journal.entries() if e["op"] == "sale"] == ["intent", "commit"]
