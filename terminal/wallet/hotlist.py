"""Cards this terminal must refuse: lost, replaced, refunded, cloned, rolled back.

Filled from the collector's signed bundles at sync, and locally when this
terminal itself catches a rollback or a clone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlite_utils

from terminal.schema import JOURNAL, migrate


class Hotlist:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        migrate(db, JOURNAL)

    def add(self, card_id: int, reason: str, *, source: str = "local") -> None:
        self.db.execute("INSERT OR REPLACE INTO hotlist (card_id, reason, since, source) VALUES (?, ?, ?, ?)",
                        [card_id, reason, datetime.now(UTC).isoformat(timespec="seconds"), source])

    def remove(self, card_id: int) -> None:
        self.db.execute("DELETE FROM hotlist WHERE card_id = ?", [card_id])

    def reason(self, card_id: int) -> str | None:
        row = self.db.execute("SELECT reason FROM hotlist WHERE card_id = ?", [card_id]).fetchone()
        return row[0] if row else None

    def __contains__(self, card_id: object) -> bool:
        return isinstance(card_id, int) and self.reason(card_id) is not None

    def replace_all(self, entries: Iterable[tuple[int, str]], *, source: str = "collector") -> None:
        """Install the collector's list; locally found entries stay until the collector has seen them."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM hotlist WHERE source = ?", [source])
            now = datetime.now(UTC).isoformat(timespec="seconds")
            conn.executemany("INSERT OR REPLACE INTO hotlist (card_id, reason, since, source) VALUES (?, ?, ?, ?)",
                             [(cid, reason, now, source) for cid, reason in entries])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def entries(self) -> list[tuple[int, str, str]]:
        return [tuple(r) for r in self.db.execute("SELECT card_id, reason, source FROM hotlist ORDER BY card_id")]
