"""Key epochs on bands of every age: a band written before the compact record (header version 1, 32-byte slots)
and a compact one move to a new epoch at their next write, keep their balance and history, and the old epoch's
key (a stolen terminal's) then opens none of their records; a move torn at any command leaves a band that reads."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.ntag_purse import USER_START, PurseImage
from terminal.wallet import epochs
from terminal.wallet.card import CardError
from terminal.wallet.keys import purse_key
from terminal.wallet.ntag_ops import parse_slots
from terminal.wallet.purse import EPOCH_LEGACY_VERSION, EPOCH_VERSION, PurseKeys
from terminal.wallet.rules import Declined
from tests.wallet.conftest import Till, make_till

DATA = json.loads((Path(__file__).parents[1] / "wallet" / "data" / "legacy_bands.json").read_text())
MASTER = bytes.fromhex(DATA["master_key"])
NEW = bytes(range(16, 32))
LEGACY = [b for b in DATA["bands"] if b["product"] == "NTAG215" and b["seq"] in (2, 5)]


def _band(entry: dict[str, Any]) -> NtagEmulator:
    card = NtagEmulator(entry["product"], uid=bytes.fromhex(entry["uid"]))
    card.restore(bytes.fromhex(entry["image"]))
    return card


def _moved_till(tmp: Path, name: str) -> Till:
    till = make_till(tmp, master_key=MASTER, db_name=f"{name}.db")
    till.wallet._band = epochs.BandKeys(event_id=DATA["event"], masters={0: MASTER, 1: NEW}, current=1)
    return till


def _old_key_records(card: NtagEmulator) -> int:
    """How many records the epoch-0 key still opens, whatever header the holder assumes."""
    raw = card.snapshot()
    header = epochs.decode_header(epochs.BandKeys.single(MASTER, DATA["event"]), card.uid,
                                  raw[USER_START * 4: USER_START * 4 + 16])
    keys = PurseKeys(purse_key(MASTER, card.uid, DATA["event"]))
    return len(parse_slots(keys, header, PurseImage(card.uid, raw), card.product)[0])


@pytest.mark.parametrize("entry", LEGACY, ids=lambda e: f"legacy-seq{e['seq']}")
def test_a_legacy_band_moves_to_the_new_epoch_with_its_history(tmp_path: Path, entry: dict[str, Any]) -> None:
    card = _band(entry)
    till = _moved_till(tmp_path, "here")
    before = till.wallet.read(till.tap(card))
    assert _old_key_records(card) == len(before.history)
    out = till.wallet.charge(till.tap(card), 100)
    assert out.balance_after == entry["balance"] - 100
    header = epochs.peek(card.snapshot()[USER_START * 4: USER_START * 4 + 16])
    assert header is not None and header[3] == EPOCH_LEGACY_VERSION and header[4] == 1
    assert _old_key_records(card) == 0
    after = _moved_till(tmp_path, "there").wallet.read(till.tap(card))
    twin = _band(entry)  # the same band written by a terminal of epoch 0: the move loses no history
    plain = make_till(tmp_path, master_key=MASTER, db_name="plain.db")
    plain.wallet.charge(plain.tap(twin), 100)
    assert after.history == plain.wallet.read(plain.tap(twin)).history
    tag = till.tap(card)  # the next sale in the new epoch is an ordinary one
    till.wallet.charge(tag, 100)
    assert tag.exchanges <= 8


def test_a_compact_band_moved_costs_one_tap_and_then_8_exchanges(tmp_path: Path) -> None:
    old = make_till(tmp_path, master_key=MASTER, db_name="old.db")
    card = NtagEmulator("NTAG215")
    old.wallet.issue(old.tap(card), 3000)
    for _ in range(3):
        old.wallet.charge(old.tap(card), 100)
    till = _moved_till(tmp_path, "new")
    tag = till.tap(card)
    till.wallet.charge(tag, 100)
    moving = tag.exchanges
    tag = till.tap(card)
    till.wallet.charge(tag, 100)
    assert tag.exchanges <= 8 < moving
    assert epochs.peek(card.snapshot()[USER_START * 4: USER_START * 4 + 16])[3] == EPOCH_VERSION
    assert _old_key_records(card) == 0


@pytest.mark.parametrize("tear_at", range(1, 36, 2))
def test_a_legacy_band_torn_while_moving_reads_before_or_after(tmp_path: Path, tear_at: int) -> None:
    entry = LEGACY[-1]
    card = _band(entry)
    here = _moved_till(tmp_path, "here")
    card.tear_after(tear_at, partial_bytes=tear_at % 5)
    with contextlib.suppress(CardError, Declined):
        here.wallet.charge(here.tap(card), 100)
    if card._tear_in is not None:
        pytest.skip("tear point after the whole moving sale")
    there = _moved_till(tmp_path, "there")
    balance = there.wallet.read(there.tap(card)).balance
    assert balance in (entry["balance"], entry["balance"] - 100)
    assert here.wallet.read(here.tap(card)).balance == balance
    assert not here.wallet.pending()
    for _ in range(5):  # a password page torn part-way: up to 4 refused taps
        try:
            assert there.wallet.charge(there.tap(card), 50).balance_after == balance - 50
            break
        except Declined as exc:
            assert exc.code == "rekey_interrupted"
    else:
        pytest.fail("the band never moved to the new epoch")
    assert _old_key_records(card) == 0
