"""Bundles: signed by the event key, verified by terminals, hotlist and acknowledgements applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.collector.bundle import build_bundle
from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import block_card, reconcile
from sync.collector.storage import Store
from sync.format.batch import encode
from sync.format.bundle import BundleError, encode_bundle
from terminal.config import load_keys
from terminal.uplink.bundle_apply import apply_bundle_bytes
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import open_terminal
from terminal.wallet.hotlist import Hotlist
from tests.sync.journals import configured_terminal


def test_hotlist_and_ack_reach_the_terminal(tmp_path: Path, store: Store) -> None:
    cfg, term = configured_terminal(tmp_path, 2)
    ts = open_terminal(cfg)
    from sync.collector.enrollment import enroll

    enroll(store, 2, ts.public_key)
    term.book("issue", 5, 5000, method="cash")
    term.book("sale", 5, 1000)
    term.book("sale", 5, 2000, card_seq=2, balance_before=5000)  # clone
    for b in batches(term.journal, term.key):
        ingest_bytes(store, encode(b))
    reconcile(store)
    block_card(store, 77, "lost")
    keys = load_keys(cfg.parent / "keys.toml")
    data = encode_bundle(build_bundle(store, keys, terminal_id=2))
    applied = apply_bundle_bytes(ts, data)
    assert applied["acked_seq"] == 6
    hot = Hotlist(ts.journal.db)
    assert 5 in hot and 77 in hot and 6 not in hot
    assert ts.status()["unsynced_entries"] == 0 and ts.status()["last_sync"] is not None
    # a replayed older bundle is refused
    newer = encode_bundle(build_bundle(store, keys, terminal_id=2))
    apply_bundle_bytes(ts, newer)
    with pytest.raises(BundleError, match="older"):
        apply_bundle_bytes(ts, data)


def test_tampered_or_foreign_bundle_is_refused(tmp_path: Path, store: Store) -> None:
    cfg, _ = configured_terminal(tmp_path, 2)
    ts = open_terminal(cfg)
    keys = load_keys(cfg.parent / "keys.toml")
    bundle = build_bundle(store, keys)
    bundle["body"]["hotlist"] = []
    bundle["body"]["settings"]["max_days_unsynced"] = 99
    with pytest.raises(BundleError, match="signature"):
        apply_bundle_bytes(ts, encode_bundle(bundle))
    other_cfg, _ = configured_terminal(tmp_path / "other", 3, master_key=b"\x01" * 16)
    with pytest.raises(BundleError, match="signature"):
        apply_bundle_bytes(open_terminal(other_cfg), encode_bundle(build_bundle(store, keys)))
    with pytest.raises(BundleError, match="not a StallPay bundle"):
        apply_bundle_bytes(ts, b"{}")
