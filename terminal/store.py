"""The terminal's SQLite database: one file on the SD card, WAL, fsync on every commit.

A guest is told "paid" only after the journal entry is on disk, so the
connection runs with synchronous=FULL; WAL keeps readers (UI, sync) from
blocking the card loop.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from sync.format.private_files import private_sqlite
from terminal.schema import Schema, migrate, refuse_newer


class SharedDatabase(sqlite_utils.Database):
    """A `sqlite_utils.Database` for a connection several threads share (the journal's: card loop, face worker,
    kiosk readers, background sync).

    `lock` is the connection's transaction lock: the journal holds it from BEGIN to COMMIT, and every write through
    `execute` takes it, so a write on one thread never lands inside another thread's open transaction (where it
    would be rolled back with it). Reads open no transaction: sqlite-utils 4 runs `query()` inside a SAVEPOINT,
    which on an autocommit connection is a transaction, and a reader's savepoint made a writer's BEGIN IMMEDIATE
    fail ("cannot start a transaction within a transaction"). The terminal passes only SELECTs to `query`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.RLock()

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] | None = None) -> Generator[dict, None, None]:
        if self._tracer:  # `Database.tracer` sees reads too, as with sqlite-utils' own query
            self._tracer(sql, params)
        cursor = self.conn.execute(sql, params if params is not None else ())
        if cursor.description is None:
            raise ValueError("query() can only be used with SQL that returns rows")
        keys = [d[0] for d in cursor.description]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        if sql.lstrip()[:6].upper() in _READS:
            return super().execute(sql, parameters)
        with self.lock:
            return super().execute(sql, parameters)


_READS = frozenset({"SELECT", "PRAGMA"})  # a statement starting otherwise may write (WITH … INSERT included)


def open_database(path: Path | str, schema: Schema | None = None) -> sqlite_utils.Database:
    """The database at `path`, brought to `schema`'s version (SchemaError if it is newer than this code)."""
    path = Path(path)
    if str(path) != ":memory:":
        private_sqlite(path)  # journals, PIN hashes, settings: readable by the service user alone
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    db = SharedDatabase(conn)
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
