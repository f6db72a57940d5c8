"""The terminal databases exactly as release 0.1.0 created them (its CREATE statements, copied verbatim from that
release's stores), with user_version 0: what a field terminal has on its SD card before its first update."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DATABASES: dict[str, list[str]] = {
    "journal.db": [
        """CREATE TABLE IF NOT EXISTS journal (
                seq INTEGER PRIMARY KEY, terminal_id INTEGER NOT NULL, event_id TEXT NOT NULL,
                time TEXT NOT NULL, clock_synced INTEGER NOT NULL, operator TEXT, op TEXT NOT NULL,
                phase TEXT NOT NULL, ref INTEGER, card_id INTEGER, uid TEXT, card_seq INTEGER,
                amount INTEGER NOT NULL, balance_before INTEGER, balance_after INTEGER,
                currency TEXT NOT NULL, method TEXT, items TEXT NOT NULL, data TEXT NOT NULL,
                prev_hash TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, delivered INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS journal_card ON journal(card_id, seq)",
        "CREATE INDEX IF NOT EXISTS journal_pending ON journal(phase, ref)",
        """CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE OF
               seq, terminal_id, event_id, time, clock_synced, operator, op, phase, ref, card_id, uid, card_seq,
               amount, balance_before, balance_after, currency, method, items, data, prev_hash, hash
               ON journal BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END""",
        """CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
               WHEN OLD.delivered = 0 BEGIN SELECT RAISE(ABORT, 'undelivered journal entries cannot be deleted'); """
        "END",
        "CREATE TABLE IF NOT EXISTS journal_head (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "seq INTEGER NOT NULL, hash TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS hotlist (card_id INTEGER PRIMARY KEY, reason TEXT NOT NULL, "
        "since TEXT NOT NULL, source TEXT NOT NULL DEFAULT 'local')",
        "CREATE TABLE IF NOT EXISTS last_seen (card_id INTEGER PRIMARY KEY, uid TEXT NOT NULL, "
        "seq INTEGER NOT NULL, digest TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS last_seen_uid ON last_seen(uid)",
        "CREATE TABLE IF NOT EXISTS card_ids (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS face_snapshot (account_id TEXT PRIMARY KEY, balance INTEGER NOT "
        "NULL, as_of_seq INTEGER NOT NULL, issued_at TEXT NOT NULL)",
    ],
    "catalogue.db": [
        "CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "price INTEGER NOT NULL, category TEXT NOT NULL DEFAULT '', barcode TEXT NOT NULL DEFAULT '', "
        "position INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    "operators.db": [
        "CREATE TABLE IF NOT EXISTS operators (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "role TEXT NOT NULL, pin_hash TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0, "
        "locked_until REAL NOT NULL DEFAULT 0)",
    ],
    "settings.db": ["CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
    "printqueue.db": [
        """create table if not exists jobs (
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
)"""],
    "face.db": ["""
CREATE TABLE IF NOT EXISTS face_templates (
    account_id TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,           -- nonce(12) || AES-GCM(template float32 || factors JSON)
    enrolled_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
)""", """CREATE TABLE IF NOT EXISTS face_erasures (
    account_id TEXT NOT NULL,
    erased_at INTEGER NOT NULL,
    reason TEXT NOT NULL,            -- 'checkout', 'request', 'expired', 'collector'
    confirmed_at INTEGER            -- NULL until the collector stored our confirmation
)""", """CREATE TABLE IF NOT EXISTS face_consents (
    account_id TEXT NOT NULL,
    consent_text_id TEXT NOT NULL,
    operator TEXT NOT NULL,
    given_at INTEGER NOT NULL
)"""],
}


def make_release_0_1_0(data_dir: Path, rows: dict[str, list[tuple[str, tuple]]]) -> None:
    """Create every database as 0.1.0 did and insert `rows` ({file: [(sql, params)]}) as it would have."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, statements in DATABASES.items():
        conn = sqlite3.connect(data_dir / name)
        for sql in statements:
            conn.execute(sql)
        for sql, params in rows.get(name, []):
            conn.execute(sql, params)
        conn.commit()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        conn.close()
