"""The terminal's SQLite database: one file on the SD card, WAL, fsync on every commit.

A guest is told "paid" only after the journal entry is on disk, so the
connection runs with synchronous=FULL; WAL keeps readers (UI, sync) from
blocking the card loop.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from sync.format.private_files import private_sqlite
from terminal.schema import Schema, migrate, refuse_newer


def open_database(path: Path | str, schema: Schema | None = None) -> sqlite_utils.Database:
    """The database at `path`, brought to `schema`'s version (SchemaError if it is newer than this code)."""
    path = Path(path)
    if str(path) != ":memory:":
        private_sqlite(path)  # journals, PIN hashes, settings: readable by the service user alone
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    db = sqlite_utils.Database(conn)
    if schema is not None:
        refuse_newer(db, schema, where=str(path))  # before WAL mode rewrites the file's header
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    # freed pages are zeroed: an uploaded sealed template or an erased record leaves no copy in the file
    db.execute("PRAGMA secure_delete=ON")
    if schema is not None:
        migrate(db, schema, where=str(path))
    return db
