"""The collector's view after a campaign part: a terminal's journal synced into a fresh collector, reconciled."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.enrollment import enroll
from sync.collector.event import init_event, set_setting
from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import hotlist, reconcile
from sync.collector.storage import open_store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.keys import public_hex
from terminal.uplink.export import batches
from terminal.wallet.journal import Journal


def collector_books(journal: Journal, db: Path) -> dict[str, Any]:
    """Upload every entry of `journal` to a new SQLite collector at `db`; its summary and hotlist."""
    store = open_store(db)
    try:
        init_event(store, journal.event_id, "EUR")
        # the collector re-checks the limits the campaign's tills run with (tests/wallet/conftest.py: no NTAG cap
        # beyond max_balance, no daily credit ceiling)
        set_setting(store, "card_limits", {"max_balance": 100_000, "ntag_max_balance": 100_000,
                                           "credit_per_day": 10**12})
        key = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
        enroll(store, journal.terminal_id, public_hex(key), role="cashier", vendor="campaign")
        refused = [r.reason for b in batches(journal, key) if not (r := ingest_bytes(store, encode(b))).ok]
        reconcile(store)
        s = summary(store, check_cards=True)
        return {"books_balance": s["books_balance"], "anomalies": s["anomalies"], "hotlist": hotlist(store),
                "refused": refused, "entries": s["entries"], "outstanding": s["outstanding"]}
    finally:
        store.close()


def books_ok(books: dict[str, Any]) -> bool:
    """Books balance, nothing unexplained, no card blocked except the old cards of replacements."""
    innocent = [c for c, reason in books["hotlist"] if reason != "replaced"]
    return bool(books["books_balance"] and not books["anomalies"] and not innocent and not books["refused"])
