"""The terminal's SQLite database: one file on the SD card, WAL, fsync on every commit.

A guest is told "paid" only after the journal entry is on disk, so the
connection runs with synchronous=FULL; WAL keeps readers (UI, sync) from
blocking the card loop.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils


def open_database(path: Path | str) -> sqlite_utils.Database:
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    # freed pages are zeroed: an uploaded sealed template or an erased record leaves no copy in the file
    db.execute("PRAGMA secure_delete=ON")
    return db
