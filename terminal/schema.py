"""Numbered schema steps for the terminal's SQLite files, recorded in `PRAGMA user_version`.

A field terminal is updated while its journal, operators and gallery stay on
the SD card, so every database file has a list of steps: step 1 is the schema
release 0.1.0 created (written with `IF NOT EXISTS`, so a database from before
versioning, at user_version 0, adopts it without a copy), and each later
change is a new step. A later step changes tables through sqlite-utils' table
API (`db[table].add_column(...)`, `db[table].transform(...)`,
`create(..., if_not_exists=True)`), which rebuilds a table in place safely.

All pending steps and the new version run in one `BEGIN IMMEDIATE`
transaction: a power cut during an update leaves the old schema, never half
of the new one, and two processes starting at once do not both migrate. A
database written by a newer release is refused, untouched, with the reason:
the older code would misread it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlite_utils


class SchemaError(ValueError):
    """A database this code cannot use (newer than the code, or a step failed); the message says what to do."""


@dataclass(frozen=True)
class Step:
    """One schema change: `sql` (a script) or `apply` (a function of the sqlite-utils database)."""

    version: int
    why: str
    sql: str = ""
    apply: Callable[[sqlite_utils.Database], None] | None = None

    def run(self, db: sqlite_utils.Database) -> None:
        if self.sql:
            db.executescript(self.sql)  # inside the open transaction: sqlite-utils runs it statement by statement
        if self.apply is not None:
            self.apply(db)


@dataclass(frozen=True)
class Schema:
    """The steps of one database file, numbered 1, 2, ... without gaps."""

    name: str
    steps: Sequence[Step]

    def __post_init__(self) -> None:
        if [s.version for s in self.steps] != list(range(1, len(self.steps) + 1)):
            raise ValueError(f"schema {self.name}: steps must be numbered 1..n without gaps")

    @property
    def version(self) -> int:
        return len(self.steps)


def user_version(db: sqlite_utils.Database | sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(target: sqlite_utils.Database | sqlite3.Connection, schema: Schema, *, where: str = "") -> int:
    """The database's version; SchemaError if a newer release wrote it (checked before anything touches the file)."""
    found = user_version(target)
    if found > schema.version:
        raise SchemaError(f"{where or schema.name + ' database'} was written by a newer StallPay (schema {found}, "
                          f"this release knows up to {schema.version}); it was not changed. Install that release "
                          "again (stallpay provision update) instead of this one.")
    return found


def migrate(target: sqlite_utils.Database | sqlite3.Connection, schema: Schema, *, where: str = "") -> int:
    """Bring the database to `schema.version`; returns the version it had. Refuses a newer database."""
    db = target if isinstance(target, sqlite_utils.Database) else sqlite_utils.Database(target)
    label = where or f"{schema.name} database"
    found = refuse_newer(db, schema, where=where)
    if found == schema.version:
        return found
    if db.conn.in_transaction:
        raise SchemaError(f"{label}: cannot migrate inside an open transaction")
    db.execute("BEGIN IMMEDIATE")  # sqlite-utils' own steps nest in it as savepoints
    try:
        found = user_version(db)  # another process may have migrated while we waited for the lock
        for step in schema.steps:
            if step.version > found:
                step.run(db)
        db.execute(f"PRAGMA user_version = {int(schema.version)}")
        db.execute("COMMIT")
    except BaseException as exc:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise SchemaError(f"{label}: schema upgrade from {found} to {schema.version} failed, nothing was "
                              f"changed: {exc}") from exc
        raise
    return found
