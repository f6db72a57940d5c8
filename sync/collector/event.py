"""The event a collector database belongs to; batches of any other event are refused."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.collector.storage import Store, StoreError, is_dsn, open_store

DEFAULT_SETTINGS: dict[str, Any] = {
    # anomaly kinds that put a card on the hotlist by themselves
    "auto_hotlist": ["clone", "rollback", "balance_jump"],
    "max_days_unsynced": 0,
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def init_event(store: Store, event_id: str, currency: str, name: str = "") -> None:
    current = get_meta(store, "event_id")
    if current is not None and current != event_id:
        raise StoreError(f"this database belongs to event {current!r}, not {event_id!r}")
    with store.transaction():
        for key, value in (("event_id", event_id), ("currency", currency), ("name", name)):
            store.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                          "SET value = excluded.value", [key, value])
        for key, value in DEFAULT_SETTINGS.items():
            store.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                          [key, json.dumps(value)])


def open_event_store(target: str | Path) -> Store:
    """Open the database of an initialised event, never creating one.

    A mistyped `--db` must not silently make an empty database that then reports a balanced, empty event.
    """
    target = str(target)
    how = f"create it with 'stallpay collector init --db {target} --event-id EVENT'"
    if not is_dsn(target) and not Path(target).is_file():
        raise StoreError(f"no collector database at {target}: {how}")
    try:
        store = open_store(target, migrate=False)
    except StoreError as exc:
        raise StoreError(f"{exc}: {how}") from None
    try:
        if not _has_table(store, "meta"):
            raise StoreError(f"{target} is not an initialised collector database: {how}")
        store.migrate()
        require_event(store)
    except sqlite3.DatabaseError as exc:
        store.close()
        raise StoreError(f"{target} is not a collector database ({exc}): {how}") from None
    except StoreError:
        store.close()
        raise
        store.close()
        raise
    return store


def _has_table(store: Store, name: str) -> bool:
    if store.dialect == "postgresql":
        return store.scalar("SELECT to_regclass(?) IS NOT NULL", [name]) is True
    return store.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [name]) == 1


def get_meta(store: Store, key: str) -> str | None:
    return store.scalar("SELECT value FROM meta WHERE key = ?", [key])


def meta_seed(store: Store, key: str) -> bytes:
    """32 random bytes of collector-only key material, made on first use and kept in `meta` only sealed under the
    collector's key file (`sync.collector.sealing`, meta key `KEY_sealed`); a plaintext
    seed of an older database is sealed and removed at first use, so reading the database alone gives nothing."""
    import secrets

    from sync.collector.sealing import seal, unseal

    purpose = key.removeprefix("collector_").replace("_", " ")
    sealed = get_meta(store, f"{key}_sealed")
    if sealed is None:
        legacy = get_meta(store, key)
        seed = bytes.fromhex(legacy) if legacy is not None else secrets.token_bytes(32)
        with store.transaction():
            store.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                          [f"{key}_sealed", seal(store, purpose, seed)])
            store.execute("DELETE FROM meta WHERE key = ?", [key])
        sealed = get_meta(store, f"{key}_sealed")
    assert sealed is not None
    return unseal(store, purpose, sealed)


def require_event(store: Store) -> str:
    event_id = get_meta(store, "event_id")
    if event_id is None:
        raise StoreError("collector database is not initialised: run 'stallpay collector init --event-id ...'")
    return event_id


def get_setting(store: Store, key: str) -> Any:
    raw = store.scalar("SELECT value FROM settings WHERE key = ?", [key])
    return json.loads(raw) if raw is not None else DEFAULT_SETTINGS.get(key)


def set_setting(store: Store, key: str, value: Any) -> None:
    store.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                  "excluded.value", [key, json.dumps(value)])
