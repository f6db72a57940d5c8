"""Bands written before the compact record (32-byte slots, purse header version 1) stay readable, are rewritten in
the compact format on their next write, and keep the tear guarantees while that happens.

`data/legacy_bands.json` holds band images made by the code of commit 79e5e28 (test key, fixed UIDs): each of the
four products after 1..6 operations, so the newest legacy record sits in every legacy slot.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.ntag_purse import COMPACT, LEGACY
from terminal.wallet.card import CardError
from terminal.wallet.operations import TapAgain
from terminal.wallet.purse import LEGACY_VERSION
from tests.wallet.bands import open_band
from tests.wallet.conftest import Till, make_till

DATA = json.loads((Path(__file__).parent / "data" / "legacy_bands.json").read_text())
MASTER = bytes.fromhex(DATA["master_key"])
BANDS: list[dict[str, Any]] = DATA["bands"]
TRIALS = 600


def band_of(entry: dict[str, Any]) -> NtagEmulator:
    card = NtagEmulator(entry["product"], uid=bytes.fromhex(entry["uid"]))
    card.restore(bytes.fromhex(entry["image"]))
    return card


def _label(entry: dict[str, Any]) -> str:
    return f"{entry['product']}-seq{entry['seq']}"


@pytest.fixture
def till(tmp_path: Path) -> Till:
    return make_till(tmp_path, master_key=MASTER)


@pytest.mark.parametrize("entry", BANDS, ids=_label)
def test_a_legacy_band_reads_as_it_was_written(till: Till, entry: dict[str, Any]) -> None:
    card = band_of(entry)
    state = till.wallet.read(till.tap(card))
    assert (state.balance, state.record.seq, state.record.comp, state.record.spent) == (
        entry["balance"], entry["seq"], entry["comp"], entry["spent"])
    assert len(state.history) == entry["history"]
    band = open_band(MASTER, DATA["event"], card.uid, card.snapshot())
    assert band.header.version == LEGACY_VERSION and band.current_slot.fmt == LEGACY


@pytest.mark.parametrize("entry", BANDS, ids=_label)
def test_the_next_write_is_compact_in_8_exchanges_and_keeps_the_history(till: Till, entry: dict[str, Any]) -> None:
    card = band_of(entry)
    tag = till.tap(card)
    out = till.wallet.charge(tag, 100)
    assert out.balance_after == entry["balance"] - 100
    # Ultralight EV1 adds READ_CNT, INCR_CNT, and catches its counter up once (a legacy issue left it at 0).
    assert tag.exchanges <= (8 if entry["product"] != "MF0UL21" else 11)
    band = open_band(MASTER, DATA["event"], card.uid, card.snapshot())
    assert band.current_slot.fmt == COMPACT and band.current.seq == entry["seq"] + 1
    older = [r.seq for r, _ in band.records[1:]]
    assert older and older[0] == entry["seq"], "the legacy newest record survives the rewrite"
    for _ in range(6):  # later writes stay compact and never lose the record before
        till.wallet.topup(till.tap(card), 10)
        band = open_band(MASTER, DATA["event"], card.uid, card.snapshot())
        assert band.current_slot.fmt == COMPACT and band.records[1][0].seq == band.current.seq - 1
    assert till.wallet.read(till.tap(card)).balance == entry["balance"] - 100 + 60


def test_tearing_campaign_across_the_legacy_to_compact_rewrite(tmp_path: Path) -> None:
    """A band pulled away at any exchange of its first (rewriting) write, or of the next ones: the next tap finds
    the state before or after, the journal agrees, nothing stays pending."""
    rng = random.Random(20261206)
    counts = {"completed": 0, "commit": 0, "abort": 0}
    for trial in range(TRIALS):
        till = make_till(tmp_path, master_key=MASTER, db_name=f"{trial}.db")  # it has not seen the band before
        entry = rng.choice(BANDS)
        card = band_of(entry)
        for _ in range(rng.choice([0, 0, 1, 2])):  # sometimes the rewrite happened already
            till.wallet.charge(till.tap(card), 10)
        before = till.wallet.read(till.tap(card))
        op = rng.choice(["sale", "topup", "close", "void"])
        if op == "void":
            till.wallet.charge(till.tap(card), 25)
            before = till.wallet.read(till.tap(card))
        tag = till.tap(card)
        card.tear_after(rng.randrange(1, 12), rng.choice([None, 0, 1, 2, 3, 4]))
        try:
            _run(till, op, tag)
            counts["completed"] += 1
        except (TapAgain, CardError):
            pass
        card.tear_after(10**9)
        pending = [p["seq"] for p in till.wallet.pending()]
        after = till.wallet.read(till.tap(card))
        assert not till.wallet.pending(), f"trial {trial}: intent left pending"
        for seq in pending:
            outcome = till.wallet.journal.outcome(seq)
            assert outcome is not None and not outcome["data"].get("indeterminate")
            counts[outcome["phase"]] += 1
        expected = before.balance + _delta(till, after.card_id, since=before.record.seq)
        assert after.balance == expected, f"trial {trial} ({op} on {_label(entry)}): journal and card disagree"
        assert after.record.seq in (before.record.seq, before.record.seq + 1)
        band = open_band(MASTER, DATA["event"], card.uid, card.snapshot())
        assert band.current.seq == after.record.seq
        till.wallet.journal.db.close()
    assert counts["commit"] > 20 and counts["abort"] > 20 and counts["completed"] > 20, counts


def _run(till: Till, op: str, tag: Any) -> None:
    if op == "sale":
        till.wallet.charge(tag, 30)
    elif op == "topup":
        till.wallet.topup(tag, 40)
    elif op == "close":
        till.wallet.close(tag)
    else:
        till.wallet.void(tag)


def _delta(till: Till, card_id: int, *, since: int) -> int:
    """Money the journal's commits moved onto (+) or off (-) the card after card sequence `since`."""
    sign = {"topup": 1, "void": 1, "sale": -1, "close": -1}
    return sum(sign[e["op"]] * e["amount"] for e in till.wallet.journal.entries(card_id=card_id)
               if e["phase"] == "commit" and e["card_seq"] > since)
