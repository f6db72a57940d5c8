"""The collector's card limits reach terminals in bundles and bound them: a terminal whose own terminal.toml says
more still refuses beyond the collector's limits, from the next tap after the bundle, without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.collector.bundle import build_bundle
from sync.collector.enrollment import enroll
from sync.collector.event import set_setting
from sync.collector.storage import Store
from sync.format.bundle import encode_bundle
from terminal.config import load_config, load_keys
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator.ntag import NtagEmulator
from terminal.nfc.ntag import identify
from terminal.uplink.bundle_apply import apply_bundle_bytes
from terminal.uplink.terminal_side import open_terminal
from terminal.wallet.collector_limits import bounded, collector_limits
from terminal.wallet.operations import Wallet
from terminal.wallet.rules import Declined, Limits
from tests.sync.journals import configured_terminal


def test_bundle_limits_bound_the_terminal(tmp_path: Path, store: Store) -> None:
    cfg_path, _ = configured_terminal(tmp_path, 1, bytes(range(16)))
    config, keys = load_config(cfg_path), load_keys(cfg_path.parent / "keys.toml")
    assert config.limits.ntag_max_balance == 25_000 and config.terminal.mode == "sale"
    cfg = config.model_copy(update={"terminal": config.terminal.model_copy(update={"mode": "cashier"})})
    wallet = Wallet.open(cfg, keys)
    reader, band = EmulatedReader(), NtagEmulator("NTAG215", uid=bytes([4, 9, 9, 9, 9, 9, 9]))

    def tap(action: str, *args: object, card: NtagEmulator = band, **kwargs: object) -> object:
        reader.place(card)
        try:
            return getattr(wallet, action)(identify(reader.wait_for_card(1)), *args, **kwargs)
        finally:
            reader.remove()

    assert wallet.limits.ntag_max_balance == 25_000  # before any bundle: the terminal's own
    tap("issue", 12_000, method="cash")
    set_setting(store, "card_limits", {"max_balance": 50_000, "ntag_max_balance": 15_000, "credit_per_day": 20_000})
    ts = open_terminal(cfg_path)
    enroll(store, 1, ts.public_key, role="cashier", vendor="Grill")
    apply_bundle_bytes(ts, encode_bundle(build_bundle(store, keys, terminal_id=1)))
    assert (wallet.limits.ntag_max_balance, wallet.limits.credit_per_day) == (15_000, 20_000)
    with pytest.raises(Declined) as over:
        tap("topup", 5_000, method="cash")  # 17,000 would pass the toml's 25,000, not the collector's 15,000
    assert over.value.code == "over_max_balance"
    assert tap("topup", 3_000, method="cash").balance_after == 15_000
    second = NtagEmulator("NTAG215", uid=bytes([4, 9, 9, 9, 9, 9, 8]))
    with pytest.raises(Declined) as ceiling:  # 15,000 credited today + 6,000 > the collector's 20,000
        tap("issue", 6_000, method="cash", card=second)
    assert ceiling.value.code == "over_credit_ceiling"
    assert tap("issue", 5_000, method="cash", card=second).balance_after == 5_000


def test_hostile_or_missing_settings_leave_own_limits(tmp_path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(tmp_path / "j.db")
    assert collector_limits(db) == {}
    db.execute("CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for bad in ('"x"', "[1]", '{"card_limits": {"max_balance": -1, "ntag_max_balance": true}}', "not json"):
        db.execute("INSERT OR REPLACE INTO sync_state VALUES ('bundle_settings', ?)", [bad])
        assert collector_limits(db) == {}
    own = Limits(max_balance=50_000, ntag_max_balance=None)
    assert bounded(own, {"ntag_max_balance": 10_000, "max_balance": 90_000}) == Limits(max_balance=50_000,
                                                                                        ntag_max_balance=10_000)
