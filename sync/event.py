"""The event a collector database belongs to; batches of any other event are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sync.storage import Store, StoreError

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


def get_meta(store: Store, key: str) -> str | None:
    return store.scalar("SELECT value FROM meta WHERE key = ?", [key])


def meta_seed(store: Store, key: str) -> bytes:
    """32 random bytes kept in `meta` under `key`, made on first use (collector-only key material)."""
    import secrets

    seed = get_meta(store, key)
    if seed is None:
        store.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                      [key, secrets.token_bytes(32).hex()])
        seed = get_meta(store, key)
    assert seed is not None
    return bytes.fromhex(seed)


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
