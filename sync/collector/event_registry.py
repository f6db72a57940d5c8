"""Several events on one collector: a registry in the home database, each event's books in a database of its
own (a PostgreSQL schema of the same database, or a SQLite file beside the home one).

Every event-scoped table (entries, terminals, cards, hotlist, catalogue, operators, payouts...) therefore
exists once per event, and no query of one event can see another's rows: two events cannot mix, and every
existing report, bundle and ingest works unchanged on an event's store. An existing single-event database
is the home event (it registers itself on first use); organizer accounts, sessions and the audit log stay
in the home database. Each event has its own keys (a keys file, 0600, beside the home one).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sync.collector.event import get_meta, init_event, now_iso
from sync.collector.event_window import DateError, EventWindow, parse_date, write_window
from sync.collector.storage import Store, is_dsn, open_store
from sync.format.event_keys import EventKeys, load_keys, new_keys_text
from sync.format.private_files import write_private

EVENT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
CURRENCY = re.compile(r"[A-Z]{3}")


class RegistryError(Exception):
    """A refused event, phrased for the back office."""


def event_target(home_target: str, event_id: str) -> str:
    """Where an event's books live, next to the home database's."""
    if is_dsn(home_target):
        if not home_target.startswith(("postgresql://", "postgres://")):
            raise RegistryError("several events need the database given as a postgresql:// URL")
        parts = urlsplit(home_target)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
        query.append(("options", f"-csearch_path={schema_name(event_id)}"))
        return urlunsplit(parts._replace(query=urlencode(query)))
    home = Path(home_target)
    return str(home.with_name(f"{home.stem}-{event_id}{home.suffix or '.db'}"))


def schema_name(event_id: str) -> str:
    return "event_" + event_id.replace("-", "_")


class EventStores:
    """The registry and one open store (and keys) per event; the home event is the database `serve` opened."""

    def __init__(self, home: Store, home_keys: EventKeys | None, *, home_target: str | None = None,
                 keys_dir: Path | None = None) -> None:
        self.home = home
        self.home_id = get_meta(home, "event_id") or ""
        self.home_target = home_target or getattr(home, "target", None)
        self.keys_dir = keys_dir
        self._keys: dict[str, EventKeys] = {self.home_id: home_keys} if home_keys is not None else {}
        self._stores: dict[str, Store] = {self.home_id: home}
        self._lock = threading.Lock()
        self.on_added: Callable[[str], None] | None = None  # e.g. serve the new event's terminal API
        self._register_home()
        self._ids = [r["event_id"] for r in self.list()]

    def _register_home(self) -> None:
        if self.home_id:
            self.home.execute("INSERT INTO events (event_id, name, currency, starts, ends, target, keys_file, "
                              "created_at) VALUES (?, ?, ?, '', '', '', '', ?) ON CONFLICT DO NOTHING",
                              [self.home_id, get_meta(self.home, "name") or "", get_meta(self.home, "currency")
                               or "EUR", now_iso()])

    def list(self) -> list[dict]:
        return self.home.query("SELECT event_id, name, currency, starts, ends, created_at FROM events "
                               "ORDER BY created_at, event_id")

    def ids(self) -> list[str]:
        return list(self._ids)

    def refresh(self) -> list[str]:
        """Events another process added (`stallpay collector events add`) since this one last looked."""
        new = [r["event_id"] for r in self.list() if r["event_id"] not in self._ids]
        with self._lock:
            self._ids.extend(e for e in new if e not in self._ids)
        for event_id in new:
            if self.on_added is not None:
                self.on_added(event_id)
        return new

    def store(self, event_id: str) -> Store:
        with self._lock:
            found = self._stores.get(event_id)
            if found is None:
                row = self._row(event_id)
                found = self._stores[event_id] = open_store(row["target"])
            return found

    def keys(self, event_id: str) -> EventKeys:
        with self._lock:
            found = self._keys.get(event_id)
            if found is None:
                row = self._row(event_id)
                if not row["keys_file"]:
                    raise RegistryError(f"event {event_id} has no keys file")
                found = self._keys[event_id] = load_keys(Path(row["keys_file"]))
            return found

    def set_window(self, event_id: str, window: EventWindow) -> None:
        """Write an event's dates into its own books (where they are enforced, the one source of truth) and
        keep the registry's copy (`events list`) in step; RegistryError for an event not on this collector."""
        write_window(self.store(event_id), window)
        self.home.execute("UPDATE events SET starts = ?, ends = ? WHERE event_id = ?",
                          [window.starts or "", window.ends or "", event_id])

    def _row(self, event_id: str) -> dict:
        rows = self.home.query("SELECT target, keys_file FROM events WHERE event_id = ?", [event_id])
        if not rows or not rows[0]["target"]:
            raise RegistryError(f"no event {event_id!r} on this collector")
        return rows[0]

    def add(self, event_id: str, name: str, currency: str, starts: str = "", ends: str = "") -> dict:
        """A new event with its own books and keys; RegistryError with the reason when refused."""
        if not EVENT_ID.fullmatch(event_id):
            raise RegistryError("an event id is 1 to 40 lower-case letters, digits or dashes")
        if not CURRENCY.fullmatch(currency):
            raise RegistryError("a currency is three capital letters (ISO 4217), e.g. EUR")
        try:
            window = EventWindow(parse_date(starts, "start") if starts else None,
                                 parse_date(ends, "end") if ends else None)
        except DateError as exc:
            raise RegistryError(f"{exc} (dates are YYYY-MM-DD and the event ends after it starts)") from None
        if self.home_target is None or self.keys_dir is None:
            raise RegistryError("this collector was started without a place for more events")
        if event_id in self._ids:
            raise RegistryError(f"event {event_id} exists")
        target = event_target(self.home_target, event_id)
        if is_dsn(target):
            self.home.execute(f"CREATE SCHEMA IF NOT EXISTS {schema_name(event_id)}")
        store = open_store(target)
        if get_meta(store, "event_id") not in (None, event_id):
            raise RegistryError(f"the database for {event_id} belongs to another event")
        init_event(store, event_id, currency, " ".join(name.split())[:100])
        if window.starts or window.ends:  # enforced from the event's own settings (sync.collector.event_window)
            write_window(store, window)
        keys_file = self.keys_dir / f"keys-{event_id}.toml"
        if not keys_file.exists():
            write_private(keys_file, new_keys_text(event_id, secrets.token_bytes(16)).encode())
        self.home.execute("INSERT INTO events (event_id, name, currency, starts, ends, target, keys_file, created_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [event_id, " ".join(name.split())[:100], currency,
                                                              starts, ends, target, str(keys_file), now_iso()])
        with self._lock:
            self._stores[event_id] = store
            self._ids.append(event_id)
        if self.on_added is not None:
            self.on_added(event_id)
        return {"event_id": event_id, "name": name, "currency": currency, "keys_file": str(keys_file)}
