"""The newest state of each card this terminal has seen, to catch a card restored to an older image.

NTAG21x has no one-way counter a terminal can bind a write to, so this table
is the terminal's memory: a card whose newest sequence is lower than the one
seen here, or the same sequence with different bytes, has been rolled back or
cloned.
"""

from __future__ import annotations

import hashlib

import sqlite_utils

from terminal.schema import JOURNAL, migrate


class LastSeen:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        migrate(db, JOURNAL)

    @staticmethod
    def digest(slot_bytes: bytes) -> str:
        return hashlib.sha256(slot_bytes).hexdigest()[:32]

    def get(self, card_id: int) -> tuple[str, int, str] | None:
        row = self.db.execute("SELECT uid, seq, digest FROM last_seen WHERE card_id = ?", [card_id]).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def knows_uid(self, uid: bytes) -> bool:
        """Whether a card with this UID has shown a valid purse here (so a broken one now is tampering)."""
        return self.db.execute("SELECT 1 FROM last_seen WHERE uid = ? LIMIT 1", [uid.hex()]).fetchone() is not None

    def update(self, card_id: int, uid: bytes, seq: int, slot_bytes: bytes) -> None:
        self.db.execute(
            "INSERT INTO last_seen (card_id, uid, seq, digest) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(card_id) DO UPDATE SET uid = excluded.uid, seq = excluded.seq, digest = excluded.digest "
            "WHERE excluded.seq >= last_seen.seq",
            [card_id, uid.hex(), seq, self.digest(slot_bytes)],
        )
