"""The append-only, hash-chained journal of everything that moves money on this terminal.

Every entry names its predecessor's hash, so the collector can prove that no
entry was removed or altered. A card write is bracketed: an *intent* entry is
committed before the card is touched, and a *commit* or *abort* entry follows
once the outcome is known (now, at the card's next tap, or at start-up). Only
commit entries move money.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from sync.format.entry import FIELDS, GENESIS, OPS, PHASES, canonical, entry_hash  # noqa: F401
from terminal.schema import JOURNAL, migrate
from terminal.store import open_database


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JournalError(Exception):
    pass


@dataclass(frozen=True)
class Clock:
    """Wall-clock source; a Pi without network has no trustworthy time, so entries say whether it was synced."""

    synced: bool = False

    def now(self) -> str:
        return utc_now()


class Journal:
    """One terminal's journal in its SQLite database."""

    def __init__(self, db: sqlite_utils.Database | Path | str, *, terminal_id: int, event_id: str,
                 currency: str, clock: Clock | None = None) -> None:
        self.db = db if isinstance(db, sqlite_utils.Database) else open_database(db)
        self.terminal_id = terminal_id
        self.event_id = event_id
        self.currency = currency
        self.clock = clock or Clock()
        # the connection's own transaction lock when it has one (`SharedDatabase`): its writes wait for ours
        self._lock: threading.RLock = getattr(self.db, "lock", None) or threading.RLock()
        self._create()

    def _create(self) -> None:
        migrate(self.db, JOURNAL)

    # --- writing -------------------------------------------------------------

    def append(self, op: str, phase: str, *, amount: int = 0, operator: str | None = None, ref: int | None = None,
               card_id: int | None = None, uid: bytes | str | None = None, card_seq: int | None = None,
               balance_before: int | None = None, balance_after: int | None = None, method: str | None = None,
               items: list[dict[str, Any]] | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Commit one entry (fsync'd) and return it. Raises before anything is written on bad input."""
        if op not in OPS:
            raise JournalError(f"unknown journal op {op!r}")
        if phase not in PHASES:
            raise JournalError(f"unknown journal phase {phase!r}")
        for name, value in (("amount", amount), ("balance_before", balance_before), ("balance_after", balance_after)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise JournalError(f"{name} must be integer minor units, got {value!r}")
        if amount < 0:
            raise JournalError("amount is stored positive; the op gives its direction")
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                seq, prev = self._head_locked()
                entry: dict[str, Any] = {
                    "seq": seq + 1,
                    "terminal_id": self.terminal_id,
                    "event_id": self.event_id,
                    "time": self.clock.now(),
                    "clock_synced": bool(self.clock.synced),
                    "operator": operator,
                    "op": op,
                    "phase": phase,
                    "ref": ref,
                    "card_id": card_id,
                    "uid": uid.hex() if isinstance(uid, bytes) else uid,
                    "card_seq": card_seq,
                    "amount": amount,
                    "balance_before": balance_before,
                    "balance_after": balance_after,
                    "currency": self.currency,
                    "method": method,
                    "items": list(items or []),
                    "data": dict(data or {}),
                    "prev_hash": prev,
                }
                entry["hash"] = entry_hash(entry)
                row = dict(entry)
                row["clock_synced"] = int(entry["clock_synced"])
                row["items"] = json.dumps(entry["items"], ensure_ascii=False, sort_keys=True)
                row["data"] = json.dumps(entry["data"], ensure_ascii=False, sort_keys=True)
                cols = ", ".join(row)
                conn.execute(f"INSERT INTO journal ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
                conn.execute("INSERT OR REPLACE INTO journal_head (id, seq, hash) VALUES (1, ?, ?)",
                             (entry["seq"], entry["hash"]))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return entry

    def _head_locked(self) -> tuple[int, str]:
        row = self.db.conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    # --- reading -------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """(last seq, its hash); (0, GENESIS) for an empty journal."""
        with self._lock:
            return self._head_locked()

    def entries(self, *, after: int = 0, limit: int | None = None, card_id: int | None = None) -> Iterator[dict]:
        sql = "SELECT * FROM journal WHERE seq > ?"
        params: list[Any] = [after]
        if card_id is not None:
            sql += " AND card_id = ?"
            params.append(card_id)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for row in self.db.query(sql, params):
            yield _decode(row)

    def get(self, seq: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM journal WHERE seq = ?", [seq]))
        return _decode(rows[0]) if rows else None

    def export(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Entries for sync, in the exact form the hash covers (plus `hash`)."""
        return list(self.entries(after=after, limit=limit))

    def pending(self, card_id: int | None = None) -> list[dict[str, Any]]:
        """Intents with no commit or abort yet."""
        sql = ("SELECT * FROM journal i WHERE i.phase = 'intent' AND NOT EXISTS "
               "(SELECT 1 FROM journal o WHERE o.ref = i.seq AND o.phase IN ('commit', 'abort'))")
        params: list[Any] = []
        if card_id is not None:
            sql += " AND i.card_id = ?"
            params.append(card_id)
        return [_decode(r) for r in self.db.query(sql + " ORDER BY i.seq", params)]

    def request_entry(self, op: str, request_id: str, *, phase: str = "commit") -> dict[str, Any] | None:
        """The first `op` entry in `phase` journaled for a screen's request id (`data.sale_id` of a card sale,
        `data.request_id` of a face movement): how a request re-sent after a restart is recognised."""
        with self._lock:  # a plain read under the lock: the sync thread shares this connection
            cur = self.db.conn.execute(
                "SELECT * FROM journal WHERE op = ? AND phase = ? AND (json_extract(data, '$.sale_id') = ? "
                "OR json_extract(data, '$.request_id') = ?) ORDER BY seq LIMIT 1", [op, phase, request_id, request_id])
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        return _decode(dict(zip(names, row, strict=True))) if row else None

    def outcome(self, intent_seq: int) -> dict[str, Any] | None:
        rows = list(self.db.query(
            "SELECT * FROM journal WHERE ref = ? AND phase IN ('commit', 'abort') ORDER BY seq LIMIT 1", [intent_seq]))
        return _decode(rows[0]) if rows else None

    def verify_chain(self) -> int:
        """Recompute every hash; returns the number of entries checked, raises JournalError on a break."""
        prev: str | None = None
        count = 0
        for entry in self.entries():
            if prev is not None and entry["prev_hash"] != prev:
                raise JournalError(f"chain broken before entry {entry['seq']}")
            if entry_hash(entry) != entry["hash"]:
                raise JournalError(f"entry {entry['seq']} was altered")
            prev = entry["hash"]
            count += 1
        return count

    # --- delivery and retention ---------------------------------------------

    def mark_delivered(self, up_to_seq: int) -> None:
        with self._lock:
            self.db.execute("UPDATE journal SET delivered = 1 WHERE seq <= ? AND delivered = 0", [up_to_seq])

    def undelivered_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM journal WHERE delivered = 0").fetchone()[0]

    def prune_delivered(self, keep_after_seq: int) -> int:
        """Delete delivered entries with seq <= keep_after_seq; never undelivered ones."""
        with self._lock:
            cur = self.db.execute("DELETE FROM journal WHERE delivered = 1 AND seq <= ?", [keep_after_seq])
            return cur.rowcount


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    entry = {k: row[k] for k in FIELDS}
    entry["clock_synced"] = bool(entry["clock_synced"])
    entry["items"] = json.loads(entry["items"])
    entry["data"] = json.loads(entry["data"])
    entry["hash"] = row["hash"]
    return entry


def open_journal(path: Path | str, *, terminal_id: int, event_id: str, currency: str,
                 clock: Clock | None = None) -> Journal:
    return Journal(open_database(path), terminal_id=terminal_id, event_id=event_id, currency=currency, clock=clock)
