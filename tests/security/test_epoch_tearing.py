"""A band pulled away at every command of its move to a new key epoch: the next tap (here, or at another terminal
of the new epoch) finds it before or after the sale, never unreadable, and the journal agrees with the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator.ntag import NtagEmulator
from terminal.nfc.ntag import identify
from terminal.nfc.ntag_purse import USER_START
from terminal.wallet import epochs
from terminal.wallet.card import CardError
from terminal.wallet.journal import open_journal
from terminal.wallet.operations import Wallet
from terminal.wallet.rules import Declined

EVENT = "fest-2026"
OLD, NEW = bytes(range(16)), bytes(range(16, 32))


def _wallet(tmp: Path, tid: int, masters: dict[int, bytes], current: int) -> Wallet:
    journal = open_journal(tmp / f"t{tid}.db", terminal_id=tid, event_id=EVENT, currency="EUR")
    return Wallet(journal=journal, master_key=OLD, event_id=EVENT, terminal_id=tid,
                  band_keys=epochs.BandKeys(event_id=EVENT, masters=masters, current=current))


def _tap(wallet: Wallet, card: NtagEmulator, action: str, *args: object, **kwargs: object) -> object:
    reader = EmulatedReader()
    reader.place(card)
    try:
        return getattr(wallet, action)(identify(reader.wait_for_card(1)), *args, **kwargs)
    finally:
        reader.remove()


def _committed(wallet: Wallet) -> int:
    sign = {"sale": -1}
    return sum(sign.get(e["op"], 0) * e["amount"] for e in wallet.journal.entries() if e["phase"] == "commit")


@pytest.mark.parametrize("tear_at", range(1, 32))
def test_rekey_torn_at_any_command(tmp_path: Path, tear_at: int) -> None:
    old = _wallet(tmp_path, 1, {0: OLD}, 0)
    band = NtagEmulator("NTAG215", uid=bytes([4, 1, 2, 3, 4, 5, tear_at]))
    _tap(old, band, "issue", 3000, method="cash")
    _tap(old, band, "charge", 100)
    here, there = _wallet(tmp_path, 2, {0: OLD, 1: NEW}, 1), _wallet(tmp_path, 3, {0: OLD, 1: NEW}, 1)
    band.tear_after(tear_at, partial_bytes=tear_at % 5)
    try:
        _tap(here, band, "charge", 400)
        torn = False
    except (CardError, Declined):
        torn = True
    if band._tear_in is not None:  # the sale needed fewer commands: this tear point lies beyond it
        pytest.skip("tear point after the whole re-keying sale")
    # another terminal of the new epoch: reads a whole balance, before or after the sale
    balance = _tap(there, band, "read").balance
    assert balance in (2900, 2500)
    # the terminal that tore settles its intent against the card and its books agree with it
    state = _tap(here, band, "read")
    assert state.balance == balance == 2900 + _committed(here)
    # the next write finishes the move (a torn password change costs up to four refused taps, journaled)
    for _ in range(5):  # a password page torn part-way: up to 4 refused taps
        try:
            after = _tap(there, band, "charge", 50)
            break
        except Declined as exc:
            assert exc.code == "rekey_interrupted"
    else:
        pytest.fail("the band never moved to the new epoch")
    assert after.balance_after == balance - 50
    raw = band.snapshot()
    assert epochs.peek(raw[USER_START * 4: USER_START * 4 + 16])[4] == 1
    if not torn:  # the sale went through whole: the band was already in the new epoch after it
        assert balance == 2500
