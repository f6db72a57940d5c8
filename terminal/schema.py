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

Every SQLite file of the terminal has its schema here, in one list
(`DATABASES`): the stores open their file with the schema from here, and an
update (`stallpay provision update`) migrates them all from the same list.
Step 1 of each is release 0.1.0's schema, verbatim; add a step for every change.
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


# --- the terminal's databases -------------------------------------------------------------------------------------

# journal.db: the journal and what the wallet keeps beside it (card ids, last-seen records, hotlist, face snapshots)
_JOURNAL_0_1_0 = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY, terminal_id INTEGER NOT NULL, event_id TEXT NOT NULL,
    time TEXT NOT NULL, clock_synced INTEGER NOT NULL, operator TEXT, op TEXT NOT NULL,
    phase TEXT NOT NULL, ref INTEGER, card_id INTEGER, uid TEXT, card_seq INTEGER,
    amount INTEGER NOT NULL, balance_before INTEGER, balance_after INTEGER,
    currency TEXT NOT NULL, method TEXT, items TEXT NOT NULL, data TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, delivered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS journal_card ON journal(card_id, seq);
CREATE INDEX IF NOT EXISTS journal_pending ON journal(phase, ref);
-- Append-only: the database itself refuses edits and deletes of undelivered entries.
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE OF
    seq, terminal_id, event_id, time, clock_synced, operator, op, phase, ref, card_id, uid, card_seq,
    amount, balance_before, balance_after, currency, method, items, data, prev_hash, hash
    ON journal BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
    WHEN OLD.delivered = 0 BEGIN SELECT RAISE(ABORT, 'undelivered journal entries cannot be deleted'); END;
-- The chain head survives pruning of delivered entries.
CREATE TABLE IF NOT EXISTS journal_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,
    hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS card_ids (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS last_seen (card_id INTEGER PRIMARY KEY, uid TEXT NOT NULL, seq INTEGER NOT NULL,
    digest TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS last_seen_uid ON last_seen(uid);
CREATE TABLE IF NOT EXISTS hotlist (card_id INTEGER PRIMARY KEY, reason TEXT NOT NULL, since TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'local');
CREATE TABLE IF NOT EXISTS face_snapshot (account_id TEXT PRIMARY KEY, balance INTEGER NOT NULL,
    as_of_seq INTEGER NOT NULL, issued_at TEXT NOT NULL);
"""

JOURNAL = Schema("journal", [
    Step(1, "release 0.1.0", sql=_JOURNAL_0_1_0),
    # a face account the collector froze: bundles list it (`face.frozen`), the terminal declines it by name
    Step(2, "face accounts frozen at the collector", sql="""
ALTER TABLE face_snapshot ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
"""),
])

_FACE_0_1_0 = """
CREATE TABLE IF NOT EXISTS face_templates (
    account_id TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,           -- nonce(12) || AES-GCM(template float32 || factors JSON)
    enrolled_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS face_erasures (
    account_id TEXT NOT NULL,
    erased_at INTEGER NOT NULL,
    reason TEXT NOT NULL,            -- 'checkout', 'request', 'expired', 'collector'
    confirmed_at INTEGER            -- NULL until the collector stored our confirmation
);
CREATE TABLE IF NOT EXISTS face_consents (
    account_id TEXT NOT NULL,
    consent_text_id TEXT NOT NULL,
    operator TEXT NOT NULL,
    given_at INTEGER NOT NULL
);
"""

FACE_GALLERY = Schema("face gallery", [Step(1, "release 0.1.0", sql=_FACE_0_1_0)])

_PRINT_QUEUE_0_1_0 = """
create table if not exists jobs (
    id integer primary key autoincrement,
    kind text not null,
    label text not null,
    format text not null,
    payload blob not null,
    state text not null,
    attempts integer not null default 0,
    last_error text,
    created real not null,
    printed real,
    reprint_of integer
)
"""
PRINT_QUEUE = Schema("print queue", [Step(1, "release 0.1.0", sql=_PRINT_QUEUE_0_1_0)])

CATALOGUE = Schema("catalogue", [Step(1, "release 0.1.0", sql="""
CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL,
    category TEXT NOT NULL DEFAULT '', barcode TEXT NOT NULL DEFAULT '', position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""")])

OPERATORS = Schema("operators", [Step(1, "release 0.1.0", sql="""
CREATE TABLE IF NOT EXISTS operators (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
    pin_hash TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0, locked_until REAL NOT NULL DEFAULT 0);
"""), Step(2, "operators managed centrally", sql="""
ALTER TABLE operators ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
""")])

SETTINGS = Schema("settings", [
    Step(1, "release 0.1.0", sql="CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")])

# file in the data directory -> its schema
DATABASES: dict[str, Schema] = {"journal.db": JOURNAL, "catalogue.db": CATALOGUE, "operators.db": OPERATORS,
                                "settings.db": SETTINGS, "printqueue.db": PRINT_QUEUE, "face.db": FACE_GALLERY}
