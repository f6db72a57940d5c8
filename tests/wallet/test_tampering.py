"""Tampered cards: each is refused, logged in the journal, and nothing is written to the card."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.ntag_purse import COMPACT, FIRST_SLOT_PAGE, READ_PAGES, slots
from terminal.wallet.rules import Declined
from tests.wallet.bands import open_band
from tests.wallet.conftest import EVENT, Till, make_till

PURSE_BYTES = READ_PAGES * 4


def issued(till: Till, amount: int = 3000) -> tuple[NtagEmulator, int]:
    card = till.new_card()
    out = till.wallet.issue(till.tap(card), amount)
    return card, out.state.card_id


def poke(card: NtagEmulator, offset: int, xor: int) -> None:
    """Change card memory behind the chip's back (an attacker with a raw writer)."""
    image = bytearray(card.snapshot())
    image[offset] ^= xor
    card.restore(bytes(image))


def refused(till: Till, card: NtagEmulator, code: str | tuple[str, ...]) -> Declined:
    before = card.snapshot()
    with pytest.raises(Declined) as exc:
        till.wallet.charge(till.tap(card), 100)
    codes = (code,) if isinstance(code, str) else code
    assert exc.value.code in codes, exc.value.message
    assert card.snapshot()[:PURSE_BYTES] == before[:PURSE_BYTES], "nothing may be written to a refused card"
    last = list(till.wallet.journal.entries())[-1]
    assert last["op"] == "decline" and last["data"]["code"] == exc.value.code
    return exc.value


def test_flipped_bit_in_every_record_is_refused(till: Till) -> None:
    card, _ = issued(till)
    till.wallet.topup(till.tap(card), 100)
    for ref in slots(card.product, (COMPACT,)):
        poke(card, ref.page * 4 + 3, 0x10)
    refused(till, card, "tampered")


def test_flipped_bit_in_the_newest_record_looks_like_a_rollback_and_is_refused(till: Till) -> None:
    card, card_id = issued(till)
    till.wallet.topup(till.tap(card), 100)
    newest = open_band(till.master_key, EVENT, card.uid, card.snapshot()).current_slot
    poke(card, newest.page * 4 + 20, 0x01)
    refused(till, card, "rollback")
    assert card_id in till.wallet.hotlist


def test_flipped_bit_in_header_is_refused(till: Till) -> None:
    card, _ = issued(till)
    poke(card, 4 * 4 + 9, 0x01)  # card id byte
    refused(till, card, "tampered")


def test_record_copied_to_another_card_is_refused(till: Till) -> None:
    rich, _ = issued(till, 40000)
    victim, _ = issued(till, 10)
    image = bytearray(victim.snapshot())
    image[16:PURSE_BYTES] = rich.snapshot()[16:PURSE_BYTES]  # pages 4.. copied, UID stays the victim's
    victim.restore(bytes(image))
    refused(till, victim, "tampered")


def test_restored_older_image_is_refused_and_hotlisted(till: Till, caplog: pytest.LogCaptureFixture) -> None:
    card, card_id = issued(till, 5000)
    old = card.snapshot()
    till.wallet.charge(till.tap(card), 4000)
    card.restore(old)  # the guest restores the memory dump taken before spending
    with caplog.at_level(logging.INFO, logger="terminal.wallet.operations"):
        refused(till, card, "rollback")
    assert till.wallet.hotlist.reason(card_id) == "rollback"
    assert any("rollback" in r.getMessage() for r in caplog.records)
    # ...and stays refused even after the image is made "newer" again by the real state.
    refused(till, card, ("blocked", "rollback"))


def test_same_sequence_different_bytes_is_a_clone(tmp_path: Path) -> None:
    a = make_till(tmp_path, terminal_id=1)
    b = make_till(tmp_path, terminal_id=2, master_key=a.master_key, db_name="b.db")
    card = a.new_card()
    a.wallet.issue(a.tap(card), 1000)
    a.wallet.read(a.tap(card))
    clone = NtagEmulator("NTAG215", uid=card.uid)
    clone.restore(card.snapshot())
    b.wallet.charge(b.tap(clone), 300)  # the clone spends at terminal 2 (seq 2 there)
    a.wallet.charge(a.tap(card), 200)  # the original spends at terminal 1 (seq 2 here)
    refused(b, card, "cloned")


def test_password_less_rewrite_is_refused_by_the_chip(till: Till) -> None:
    from terminal.wallet.card import CardError

    card, _ = issued(till)
    before = card.snapshot()
    for page in (4, FIRST_SLOT_PAGE, FIRST_SLOT_PAGE + 9):
        tag = till.tap(card)
        with pytest.raises(CardError):
            tag.write_page(page, b"\xff\xff\xff\xff")
    assert card.snapshot()[:PURSE_BYTES] == before[:PURSE_BYTES]
    assert till.wallet.read(till.tap(card)).balance == 3000


def test_card_pulled_during_the_read_changes_nothing(till: Till) -> None:
    from terminal.wallet.card import CardRemoved

    card, card_id = issued(till)
    tag = till.tap(card)
    card.tear_after(1)
    with pytest.raises(CardRemoved):
        till.wallet.charge(tag, 100)
    assert not till.wallet.pending()
    assert till.wallet.read(till.tap(card)).balance == 3000 == till.journal_balance(card_id)
