"""The schema of journal.db: the journal and what the wallet keeps beside it (card ids, last-seen records,
hotlist, face-account snapshot), as numbered steps (terminal/schema.py).

Step 1 is release 0.1.0's schema, verbatim; add a step for every change.
"""

from __future__ import annotations

from terminal.schema import Schema, Step

RELEASE_0_1_0 = """
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

JOURNAL_SCHEMA = Schema("journal", [Step(1, "release 0.1.0", sql=RELEASE_0_1_0)])
