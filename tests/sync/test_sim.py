"""Whole simulated events through the wallet and emulated wristbands: the collector's books equal the cards."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.collector.storage import open_store
from sync.sim.simulation import EVENT, SimError, _seeded, _Station, simulate


@pytest.mark.parametrize(("seed", "tear", "offline"), [(1, 0.0, 0), (2, 0.2, 1), (3, 0.1, 2)])
def test_books_balance_sqlite(tmp_path: Path, seed: int, tear: float, offline: int) -> None:
    r = simulate(terminals=4, cards=25, sales=150, seed=seed, tear_rate=tear, offline_terminals=offline,
                 out=tmp_path)
    assert r["refused"] == [] and r["books_balance"]
    assert r["outstanding"] == r["on_cards"] == r["deposited"] - r["spent"] - r["refunded"] - r["forfeited"]
    assert r["pending"] == 0 and r["anomalies"] == {}
    assert list((tmp_path / "batches").rglob("*.spb"))
    if offline:
        assert r["outstanding_before_late_sync"] != r["outstanding"]


def test_books_balance_with_replacements_and_collector_refunds(tmp_path: Path) -> None:
    r = simulate(terminals=3, cards=20, sales=100, seed=11, tear_rate=0.1, offline_terminals=1, out=tmp_path,
                 replace_rate=0.2, refund_rate=0.25)
    assert r["refused"] == [] and r["books_balance"]
    assert r["replaced_cards"] >= 3 and r["refunded_cards"] >= 3
    assert r["outstanding"] == r["on_cards"] == r["deposited"] - r["spent"] - r["refunded"] - r["forfeited"]
    # the lost wristbands still hold their money physically; the ledger moved it to the new ones
    assert r["on_replaced_cards"] > 0 and r["cards_by_status"]["replaced"] == r["replaced_cards"]
    assert r["on_refunded_cards"] == r["refunded_at_collector"] + (r["forfeited"] - _checkout_forfeits(tmp_path))


def _checkout_forfeits(out: Path) -> int:
    from sync.collector.summary import _checkouts

    return _checkouts(open_store(out / "collector.db"))[1]


def test_books_balance_on_postgresql(tmp_path: Path, store_target: str) -> None:
    r = simulate(terminals=3, cards=15, sales=80, seed=7, tear_rate=0.15, offline_terminals=1, out=tmp_path,
                 db=store_target if "postgresql" in store_target else None)
    assert r["books_balance"] and r["outstanding"] == r["on_cards"]


def test_hotlisted_card_is_refused_by_the_wallet(tmp_path: Path) -> None:
    from sync.collector.bundle import build_bundle
    from sync.collector.event import init_event
    from sync.collector.ledger import block_card
    from sync.format.bundle import encode_bundle, verify_bundle
    from sync.format.keys import event_signing_key, public_hex
    from terminal.config import EventKeys
    from terminal.nfc.emulator import NtagEmulator
    from terminal.wallet.hotlist import Hotlist
    from terminal.wallet.rules import Declined

    master = _seeded(5, "master", 16)
    store = open_store(tmp_path / "collector.db")
    init_event(store, EVENT, "EUR")
    cashier, vendor = _Station(tmp_path, 1, master, 5), _Station(tmp_path, 2, master, 5)
    card = NtagEmulator("NTAG215", uid=b"\x04" + _seeded(5, "uid-0", 6))
    card_id = cashier.tap(card, "issue", 5000, method="cash").state.card_id
    vendor.tap(card, "charge", 100, items=[])
    block_card(store, card_id, "lost")
    keys = EventKeys(event_id=EVENT, master_key=master, terminal_signing_key=bytes(32))
    body = verify_bundle(encode_bundle(build_bundle(store, keys)), public_hex(event_signing_key(master, EVENT)), EVENT)
    Hotlist(vendor.journal.db).replace_all([(c, r) for c, r in body["hotlist"]])
    with pytest.raises(Declined):
        vendor.tap(card, "charge", 100, items=[])


def test_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(SimError, match="tear-rate"):
        simulate(terminals=2, cards=2, sales=1, seed=1, tear_rate=2, out=tmp_path)
    with pytest.raises(SimError, match="offline"):
        simulate(terminals=2, cards=2, sales=1, seed=1, offline_terminals=5, out=tmp_path)
