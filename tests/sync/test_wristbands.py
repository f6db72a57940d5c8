"""End to end on emulated wristbands through the real wallet: card replacement, clones and rollbacks.

Terminals here are configured like real ones (terminal.toml + keys) and learn the
hotlist only by applying the collector's signed bundle through the terminal-side
sync code, never by writing their hotlist table directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync.collector.bundle import build_bundle
from sync.collector.enrollment import enroll
from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import LedgerError, card_balances, hotlist, reconcile, replacement_quote
from sync.collector.refunds import refundable
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.bundle import encode_bundle
from terminal.config import load_keys
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator.ntag import NtagEmulator
from terminal.nfc.ntag import identify
from terminal.uplink.bundle_apply import apply_bundle_bytes
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import open_terminal
from terminal.wallet.operations import Wallet
from terminal.wallet.rules import Declined
from tests.sync.journals import EVENT, configured_terminal

MASTER = bytes(range(16))


class Till:
    """A configured terminal with its wallet and an emulated reader."""

    def __init__(self, tmp: Path, tid: int, store: Store) -> None:
        cfg, _ = configured_terminal(tmp, tid, MASTER)
        self.tid = tid
        self.ts = open_terminal(cfg)
        self.keys = load_keys(cfg.parent / "keys.toml")
        self.wallet = Wallet(journal=self.ts.journal, master_key=MASTER, event_id=EVENT, terminal_id=tid)
        self.reader = EmulatedReader(f"till {tid}")
        enroll(store, tid, self.ts.public_key, role="cashier" if tid == 1 else "sale", vendor=f"v{tid}")

    def tap(self, card: NtagEmulator, action: str, *args: Any, **kwargs: Any) -> Any:
        self.reader.place(card)
        try:
            return getattr(self.wallet, action)(identify(self.reader.wait_for_card(1)), *args, **kwargs)
        finally:
            self.reader.remove()

    def upload(self, store: Store) -> None:
        for b in batches(self.ts.journal, self.ts.key, after=self.ts.state.acked_seq):
            assert ingest_bytes(store, encode(b)).ok
        reconcile(store)

    def fetch_bundle(self, store: Store) -> dict:
        return apply_bundle_bytes(self.ts, encode_bundle(build_bundle(store, self.keys, terminal_id=self.tid)))


def _band(n: int) -> NtagEmulator:
    return NtagEmulator("NTAG215", uid=bytes([4, 0x51, 0x7A, 0, 0, 0, n]))


def test_lost_card_replaced_with_its_ledger_balance(tmp_path: Path, store: Store) -> None:
    cashier, grill = Till(tmp_path, 1, store), Till(tmp_path, 2, store)
    old = _band(1)
    old_id = cashier.tap(old, "issue", 5000, method="cash").state.card_id
    grill.tap(old, "charge", 1200)
    cashier.tap(old, "topup", 500, method="comp")  # comp after spending: all 500 still on the card
    cashier.upload(store)
    grill.upload(store)
    before = summary(store)

    quote = replacement_quote(store, old_id)  # the guest reports the wristband lost
    assert quote == {"card_id": old_id, "balance": 4300, "comp": 500}
    assert old_id in dict(hotlist(store))
    new = _band(2)
    new_id = cashier.tap(new, "replace", old_card_id=old_id, balance=quote["balance"], comp=quote["comp"]).state.card_id
    cashier.upload(store)

    assert card_balances(store, [old_id, new_id]) == {old_id: 0, new_id: 4300}
    after = summary(store)
    assert after["books_balance"] and after["anomalies"] == {}
    assert (after["deposited"], after["spent"], after["outstanding"]) == (before["deposited"], before["spent"], 4300)
    assert after["cards_by_status"]["replaced"] == 1
    assert {r["card_id"]: r["refundable"] for r in refundable(store)} == {new_id: 3800}  # comp stays comp
    with pytest.raises(LedgerError, match="already replaced"):
        replacement_quote(store, old_id)

    # the vendor terminal learns the hotlist from the signed bundle and refuses the old wristband
    assert grill.fetch_bundle(store)["hotlist"] >= 1
    with pytest.raises(Declined) as refused:
        grill.tap(old, "charge", 100)
    assert refused.value.code == "blocked"
    assert grill.tap(new, "charge", 300).balance_after == 4000
    assert grill.tap(new, "read").balance == 4000


def test_replacement_quote_needs_a_known_card(store: Store) -> None:
    with pytest.raises(LedgerError, match="no committed entries"):
        replacement_quote(store, 12345)


@pytest.mark.parametrize("attack", ["clone", "rollback"])
def test_clone_and_rollback_are_caught_and_refused_everywhere(tmp_path: Path, store: Store, attack: str) -> None:
    cashier, grill, bar, kiosk = (Till(tmp_path, t, store) for t in (1, 2, 3, 4))
    card = _band(3)
    card_id = cashier.tap(card, "issue", 5000, method="cash").state.card_id
    image = card.snapshot()
    grill.tap(card, "charge", 1000)
    if attack == "clone":  # a second chip with the same UID and the copied memory, spent elsewhere
        other = NtagEmulator("NTAG215", uid=card.uid)
        other.restore(image)
    else:  # the same chip put back to its earlier image after spending
        card.restore(image)
        other = card
    bar.tap(other, "charge", 2000)  # the bar has never seen this card: it cannot tell locally
    for till in (cashier, grill, bar):
        till.upload(store)

    kinds = {r["kind"] for r in store.query("SELECT kind FROM anomalies WHERE card_id = ?", [card_id])}
    # the same on-card state was spent twice, whichever the physical trick, and a band now shows 1000 more than
    # the ledger explains (5000 - 1000 - 2000 = 2000 in the ledger, 3000 on the band the bar charged)
    assert kinds == {"clone", "exposure"}
    assert dict(hotlist(store))[card_id].startswith("clone")
    # a terminal that never saw the card refuses it once it has applied the bundle, and so do the others
    for till in (kiosk, grill, bar):
        till.fetch_bundle(store)
        with pytest.raises(Declined) as refused:
            till.tap(other, "charge", 100)
        assert refused.value.code == "blocked"
