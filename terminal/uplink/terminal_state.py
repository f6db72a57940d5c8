"""What the terminal remembers about sync: last acknowledgement, last contact, collector clock.

Kept in its own table next to the journal (never in the journal's tables), so the
sync state can be shown on screen and used to refuse sales after too long offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from terminal.wallet.journal import Journal


@dataclass(frozen=True)
class SyncPolicy:
    """`max_days_unsynced`: after this many days without a sync, sales are refused (0 = never)."""

    max_days_unsynced: float = 0
    retention_entries: int = 10_000  # delivered entries kept on the terminal for its own reports


class SyncState:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.db.execute("CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)", [key, json.dumps(value)])

    @property
    def acked_seq(self) -> int:
        return int(self.get("acked_seq", 0))

    def acknowledge(self, journal: Journal, acked_seq: int, policy: SyncPolicy | None = None,
                    now: datetime | None = None) -> None:
        """The collector holds everything up to `acked_seq`: mark it delivered and prune old delivered entries."""
        policy = policy or SyncPolicy()
        head, _ = journal.head()
        acked_seq = min(acked_seq, head)
        if acked_seq > self.acked_seq:
            journal.mark_delivered(acked_seq)
            self.set("acked_seq", acked_seq)
        self.set("last_sync", (now or datetime.now(UTC)).isoformat())
        keep_after = acked_seq - policy.retention_entries
        if keep_after > 0:
            journal.prune_delivered(keep_after)

    def status(self, journal: Journal, policy: SyncPolicy | None = None, now: datetime | None = None) -> dict:
        policy = policy or SyncPolicy()
        now = now or datetime.now(UTC)
        last = self.get("last_sync")
        days = None
        if last is not None:
            days = round((now - datetime.fromisoformat(last)).total_seconds() / 86400, 3)
        head, _ = journal.head()
        blocked = bool(policy.max_days_unsynced) and head > 0 and (days is None or days > policy.max_days_unsynced)
        return {
            "terminal_id": journal.terminal_id,
            "head_seq": head,
            "acked_seq": self.acked_seq,
            "unsynced_entries": journal.undelivered_count(),
            "last_sync": last,
            "days_since_sync": days,
            "clock_synced": bool(journal.clock.synced),
            "clock_offset_ms": self.get("clock_offset_ms"),
            "sales_blocked": blocked,
        }


class SyncOverdue(Exception):
    """Raised by `require_recent_sync` when sales must stop until the terminal syncs."""


def require_recent_sync(state: SyncState, journal: Journal, policy: SyncPolicy) -> None:
    st = state.status(journal, policy)
    if st["sales_blocked"]:
        since = "never synced" if st["last_sync"] is None else f"last sync {st['days_since_sync']:.1f} days ago"
        raise SyncOverdue(f"sync needed before more sales ({since}, limit {policy.max_days_unsynced} days)")
