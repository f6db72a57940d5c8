"""Consent records of people never enrolled, in the journal entries the collector keeps with the books.

Terminals journal every consent answer (`face` info entries: account id, the consent text id, who asked, whether
the guest agreed). A consent that never led to an enrollment (the guest said no, did not answer, or left before
the capture) has no purpose once the moment passed: the terminal drops its consent row after `[camera]
consent_keep_days`, and the collector applies its own `consent_keep_days` setting (default 0 days) to the journal
entries it holds: the entry stays (the hash chain and the sequence are the books' evidence), its data is reduced
to `{"event": "face_consent", "redacted": "consent retention"}`. A consent whose account has a template, an
erasure or money at the collector is kept with that account's records.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.collector.storage import Store

REDACTED = {"event": "face_consent", "redacted": "consent retention"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _enrolled(store: Store) -> set[str]:
    """Accounts that were enrolled or hold money: their consents are kept with them."""
    rows = store.query("SELECT account_id FROM gallery_changes UNION SELECT account_id FROM face_accounts")
    return {str(r["account_id"]) for r in rows}


def redact_unenrolled_consents(store: Store, keep_days: float, now: datetime | None = None) -> int:
    """Reduce the consent entries older than `keep_days` whose account was never enrolled; how many."""
    now = now or datetime.now(UTC)
    cutoff = _iso(now - timedelta(days=keep_days))
    rows = store.query("SELECT terminal_id, seq, data FROM entries WHERE op = 'face' AND phase = 'info' "
                       "AND time <= ? AND data LIKE ?", [cutoff, "%face_consent%"])
    keep = _enrolled(store)
    done = 0
    with store.transaction():
        for row in rows:
            data: Any = json.loads(row["data"]) if row["data"] else {}
            if not isinstance(data, dict) or data.get("event") != "face_consent" or data.get("redacted"):
                continue
            if str(data.get("account_id")) in keep:
                continue
            store.execute("UPDATE entries SET data = ?, operator = NULL WHERE terminal_id = ? AND seq = ?",
                          [json.dumps(REDACTED), row["terminal_id"], row["seq"]])
            done += 1
    return done
