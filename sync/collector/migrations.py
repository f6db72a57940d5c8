"""Collector schema, as numbered migrations shared by SQLite and PostgreSQL.

Only portable SQL: INTEGER/BIGINT/TEXT, `{blob}` for binary, natural keys (no
autoincrement), ON CONFLICT DO NOTHING for idempotent inserts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync.collector.operator_totals import BACKFILL as operator_totals_backfill
from sync.collector.product_totals import backfill as backfill_product_totals

MIGRATIONS: list[tuple[int, list[str | Callable[[Any], None]]]] = [
    (1, [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE terminals (
            terminal_id BIGINT PRIMARY KEY, public_key TEXT NOT NULL, role TEXT NOT NULL, vendor TEXT NOT NULL,
            name TEXT NOT NULL, status TEXT NOT NULL, enrolled_at TEXT NOT NULL, revoked_at TEXT,
            last_sync TEXT, reported_head_seq BIGINT, reported_unsynced BIGINT, clock_skew_ms BIGINT,
            clock_synced INTEGER)""",
        """CREATE TABLE pairing_codes (
            code_hash TEXT PRIMARY KEY, role TEXT NOT NULL, vendor TEXT NOT NULL, created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL, used_by BIGINT)""",
        """CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY, terminal_id BIGINT NOT NULL, first_seq BIGINT NOT NULL,
            last_seq BIGINT NOT NULL, prev_hash TEXT NOT NULL, last_hash TEXT NOT NULL, entry_count BIGINT NOT NULL,
            new_entries BIGINT NOT NULL, received_at TEXT NOT NULL, source TEXT NOT NULL)""",
        """CREATE TABLE refusals (
            received_at TEXT NOT NULL, terminal_id BIGINT, source TEXT NOT NULL, reason TEXT NOT NULL)""",
        """CREATE TABLE entries (
            terminal_id BIGINT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, prev_hash TEXT NOT NULL,
            time TEXT NOT NULL, clock_synced INTEGER NOT NULL, operator TEXT, op TEXT NOT NULL, phase TEXT NOT NULL,
            ref BIGINT, card_id BIGINT, uid TEXT, card_seq BIGINT, amount BIGINT NOT NULL, balance_before BIGINT,
            balance_after BIGINT, currency TEXT NOT NULL, method TEXT, items TEXT NOT NULL, data TEXT NOT NULL,
            PRIMARY KEY (terminal_id, seq))""",
        "CREATE INDEX entries_card ON entries (card_id, card_seq)",
        "CREATE INDEX entries_op ON entries (phase, op)",
        """CREATE TABLE hotlist (
            card_id BIGINT PRIMARY KEY, reason TEXT NOT NULL, source TEXT NOT NULL, added_at TEXT NOT NULL)""",
        """CREATE TABLE anomalies (
            card_id BIGINT NOT NULL, kind TEXT NOT NULL, terminal_id BIGINT NOT NULL, seq BIGINT NOT NULL,
            detail TEXT NOT NULL, found_at TEXT NOT NULL, PRIMARY KEY (kind, card_id, terminal_id, seq))""",
        """CREATE TABLE cards (
            card_id BIGINT PRIMARY KEY, status TEXT NOT NULL, replaced_by BIGINT, replaces BIGINT,
            refunded BIGINT NOT NULL DEFAULT 0, changed_at TEXT NOT NULL, note TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE catalogue (
            vendor TEXT NOT NULL, product_id TEXT NOT NULL, name TEXT NOT NULL, price BIGINT NOT NULL,
            PRIMARY KEY (vendor, product_id))""",
        """CREATE TABLE operators (
            operator_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, vendor TEXT NOT NULL,
            pin_hash TEXT NOT NULL)""",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE users (
            username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE gallery_changes (
            change_id BIGINT PRIMARY KEY, account_id TEXT NOT NULL, action TEXT NOT NULL, template TEXT,
            changed_at TEXT NOT NULL)""",
    ]),
    (2, [
        # comp credit left on a card refunded at the collector: forfeited, never paid out
        "ALTER TABLE cards ADD COLUMN forfeited BIGINT NOT NULL DEFAULT 0",
    ]),
    (3, [
        # signed terminal requests already seen (replay protection), kept while their timestamp is valid
        """CREATE TABLE request_signatures (
            signature TEXT PRIMARY KEY, terminal_id BIGINT NOT NULL, expires_at TEXT NOT NULL)""",
    ]),
    (4, [
        # running totals per terminal, hour, op, phase and method, kept by ingest (one small upsert per group of
        # batches) so the summary and the sales reports read a few thousand rows instead of every entry
        """CREATE TABLE entry_totals (
            terminal_id BIGINT NOT NULL, hour TEXT NOT NULL, op TEXT NOT NULL, phase TEXT NOT NULL,
            method TEXT NOT NULL, n BIGINT NOT NULL, amount BIGINT NOT NULL, delta BIGINT NOT NULL,
            PRIMARY KEY (terminal_id, hour, op, phase, method))""",
        """INSERT INTO entry_totals (terminal_id, hour, op, phase, method, n, amount, delta)
           SELECT terminal_id, substr(time, 1, 13), op, phase, COALESCE(method, ''), COUNT(*), SUM(amount),
                  SUM(COALESCE(balance_after, 0) - COALESCE(balance_before, 0))
           FROM entries GROUP BY terminal_id, substr(time, 1, 13), op, phase, COALESCE(method, '')""",
    ]),
    (5, [
        # face accounts: balance in the collector's ledger (DESIGN.md "Where the balance lives")
        """CREATE TABLE face_accounts (
            account_id TEXT PRIMARY KEY, holder TEXT NOT NULL, phone_hash TEXT NOT NULL, wristband_uid TEXT,
            status TEXT NOT NULL, created_at TEXT NOT NULL, closed_at TEXT)""",
        # signed amounts: topup/void +, sale/refund -; 'hold' rows are online authorizations until settled
        """CREATE TABLE face_ledger (
            entry_key TEXT PRIMARY KEY, account_id TEXT NOT NULL, kind TEXT NOT NULL, amount BIGINT NOT NULL,
            terminal_id BIGINT, seq BIGINT, auth_id TEXT, time TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX face_ledger_account ON face_ledger (account_id, kind)",
        "CREATE INDEX face_ledger_auth ON face_ledger (auth_id)",
        """CREATE TABLE face_erasure_confirmations (
            account_id TEXT NOT NULL, terminal_id BIGINT NOT NULL, confirmed_at TEXT NOT NULL,
            PRIMARY KEY (account_id, terminal_id))""",
        "ALTER TABLE gallery_changes ADD COLUMN expires_at BIGINT",
        "ALTER TABLE gallery_changes ADD COLUMN reason TEXT",
        # key derived from the pairing code (scrypt): the collector checks the terminal's HMAC with it
        "ALTER TABLE pairing_codes ADD COLUMN code_key TEXT",
    ]),
    (6, [
        # money an anomaly is about (exposure on a band, a negative ledger balance), summed by the summary
        "ALTER TABLE anomalies ADD COLUMN amount BIGINT",
    ]),
    (7, [
        # the back office (sync/backoffice): lock-out, sessions, audit log, API tokens, guest payout requests
        "ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE users ADD COLUMN locked_until TEXT",
        """CREATE TABLE office_sessions (
            session_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL)""",
        """CREATE TABLE audit_log (
            audit_id TEXT PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL, action TEXT NOT NULL,
            target TEXT NOT NULL, detail TEXT NOT NULL)""",
        "CREATE INDEX audit_log_at ON audit_log (at)",
        """CREATE TABLE api_tokens (
            token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE payout_requests (
            request_id TEXT PRIMARY KEY, card_id BIGINT NOT NULL, holder TEXT NOT NULL, iban TEXT NOT NULL,
            bic TEXT NOT NULL, amount BIGINT NOT NULL, status TEXT NOT NULL, requested_at TEXT NOT NULL,
            decided_by TEXT, decided_at TEXT, export_id TEXT, paid_at TEXT)""",
    ]),
    (8, [
        # cards whose new entries are stored but not yet reconciled: written in the ingest's own transaction and
        # cleared by reconcile, so an ingest killed between the two is reconciled by whatever runs next
        "CREATE TABLE reconcile_pending (card_id BIGINT PRIMARY KEY)",
    ]),
    (9, [
        # the terminal's X25519 box key from pairing: bundle templates are sealed for it alone
        # (sync.collector.face_gallery)
        "ALTER TABLE terminals ADD COLUMN face_key TEXT",
    ]),
    (10, [
        # running totals per terminal, hour and product, kept by ingest (sync.collector.product_totals): the products
        # report and the dashboard's top products no longer parse every sale's items
        """CREATE TABLE product_totals (
            terminal_id BIGINT NOT NULL, hour TEXT NOT NULL, product TEXT NOT NULL, quantity BIGINT NOT NULL,
            net BIGINT NOT NULL, PRIMARY KEY (terminal_id, hour, product))""",
        backfill_product_totals,
    ]),
    (11, [
        # operators managed centrally (sync.collector.central_operators): disabled ones are removed by terminals at
        # their next sync
        "ALTER TABLE operators ADD COLUMN status TEXT NOT NULL DEFAULT 'active'",
        "ALTER TABLE operators ADD COLUMN changed_at TEXT",
    ]),
    (12, [
        # the summary counts cards by status from an index alone (phase, op, card_id covers the old (phase, op))
        "CREATE INDEX entries_op_card ON entries (phase, op, card_id)",
        "DROP INDEX entries_op",
    ]),
    (13, [
        # several events on one collector (sync.collector.event_registry): the home database lists every event and where
        # its books are (target '' = this database); the home event registers itself on first use
        """CREATE TABLE events (
            event_id TEXT PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL, starts TEXT NOT NULL,
            ends TEXT NOT NULL, target TEXT NOT NULL, keys_file TEXT NOT NULL, created_at TEXT NOT NULL)""",
    ]),
    (14, [
        # money taken in per terminal, hour, operator and method, kept by ingest (sync.collector.operator_totals)
        """CREATE TABLE operator_totals (
            terminal_id BIGINT NOT NULL, hour TEXT NOT NULL, operator TEXT NOT NULL, op TEXT NOT NULL,
            method TEXT NOT NULL, n BIGINT NOT NULL, amount BIGINT NOT NULL,
            PRIMARY KEY (terminal_id, hour, operator, op, method))""",
        operator_totals_backfill,
    ]),
    (15, [
        # corrections of a card's balance at the collector, each with its reason (sync.collector.corrections)
        """CREATE TABLE card_corrections (
            correction_id TEXT PRIMARY KEY, card_id BIGINT NOT NULL, amount BIGINT NOT NULL, reason TEXT NOT NULL,
            by_user TEXT NOT NULL, at TEXT NOT NULL)""",
        "CREATE INDEX card_corrections_card ON card_corrections (card_id)",
    ]),
    (16, [
        # what terminals report about themselves in uploads (sync.collector.terminal_report)
        "ALTER TABLE terminals ADD COLUMN software TEXT",
        "ALTER TABLE terminals ADD COLUMN self_test TEXT",
    ]),
    (17, [
        # SEPA files as exported, for downloading again (sync.collector.backoffice.payouts)
        """CREATE TABLE sepa_files (
            export_id TEXT PRIMARY KEY, xml TEXT NOT NULL, sha256 TEXT NOT NULL, created_by TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
    ]),
    (18, [
        # catalogue edited in the back office (sync.collector.catalogue_admin): categories and barcodes travel in
        # bundles
        "ALTER TABLE catalogue ADD COLUMN category TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE catalogue ADD COLUMN barcode TEXT NOT NULL DEFAULT ''",
    ]),
    (19, [
        # where a terminal stands (a stage, a hall): reports filter by it (sync.collector.report_filters)
        "ALTER TABLE terminals ADD COLUMN venue TEXT NOT NULL DEFAULT ''",
    ]),
    (20, [
        # key epochs (sync.collector.key_epochs): each rotation's band key, sealed under the collector's key file
        """CREATE TABLE key_epochs (
            epoch BIGINT PRIMARY KEY, started_at TEXT NOT NULL, reason TEXT NOT NULL, sealed_key TEXT NOT NULL,
            old_until BIGINT NOT NULL)""",
    ]),
    (21, [
        # refunds asked for by a face account's guest in the portal go through the same approval and SEPA export
        # (sync.collector.backoffice.face_payouts); card_id is 0 for them
        "ALTER TABLE payout_requests ADD COLUMN account_id TEXT",
    ]),
    (22, [
        # a venue's own price for a vendor's product (sync.collector.venue_prices): bundles for terminals standing
        # at that venue carry it instead of the vendor's price
        """CREATE TABLE venue_prices (
            venue TEXT NOT NULL, vendor TEXT NOT NULL, product_id TEXT NOT NULL, price BIGINT NOT NULL,
            PRIMARY KEY (venue, vendor, product_id))""",
    ]),
    (23, [
        # batches whose entries are stored but whose cards are not yet reconciled (ledger.reconcile_pending): one
        # mark per batch in the ingest's transaction, where it wrote one per card (nearly one per entry at a real
        # stall); reconcile turns them into card marks (reconcile_pending) before it starts
        "CREATE TABLE reconcile_batches (batch_id TEXT PRIMARY KEY)",
    ]),
]  # fmt: skip
