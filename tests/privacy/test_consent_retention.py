"""Consent entries of people never enrolled, as the collector holds them in the journals it ingested: reduced
after the collector's `consent_keep_days` (default 0) by the scheduled purge; an enrolled guest's consent stays
with the account; the chain goes on (the next batch still ingests) and the books still balance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync.collector.consent_retention import REDACTED
from sync.collector.face import upload_template
from sync.collector.face_retention import face_settings, purge
from sync.collector.ingest import ingest_bytes
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.face_keys import seal_template, transport_key
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, make_terminal

MASTER = bytes(16)


def _consent(journal, account: str, declined: bool) -> None:  # type: ignore[no-untyped-def]
    answer = "declined" if declined else "guest_display"
    journal.append("face", "info", operator="cashier-2",
                   data={"event": "face_consent", "account_id": account, "declined": declined,
                         "text": f"face-consent-v1/en/sha256:{'0' * 64}/7d/{answer}",
                         "confirmed_by": None if declined else "guest_display"})


def _consents(store: Store) -> dict[int, dict]:
    return {r["seq"]: {**json.loads(r["data"]), "operator": r["operator"]}
            for r in store.query("SELECT seq, data, operator FROM entries WHERE op = 'face' ORDER BY seq")}


def test_unenrolled_consents_are_reduced_at_the_collector(tmp_path: Path, store: Store) -> None:
    assert face_settings(store)["consent_keep_days"] == 0
    cashier = make_terminal(tmp_path, 1, Cards(), store)
    _consent(cashier.journal, "F1-said-no", declined=True)
    _consent(cashier.journal, "F1-left", declined=False)  # agreed, but never enrolled
    _consent(cashier.journal, "F1-enrolled", declined=False)
    for b in batches(cashier.journal, cashier.key):
        ingest_bytes(store, encode(b))
    upload_template(store, MASTER, EVENT, "F1-enrolled",
                    seal_template(transport_key(MASTER, EVENT), EVENT, "F1-enrolled", [1.0, 0.0]))
    # a collector keeping consents one day keeps them today
    store.execute("INSERT INTO settings (key, value) VALUES ('consent_keep_days', '1')")
    assert purge(store)["consents_redacted"] == 0
    store.execute("DELETE FROM settings WHERE key = 'consent_keep_days'")  # back to the default: 0 days
    done = purge(store, datetime.now(UTC) + timedelta(seconds=1))
    assert done["consents_redacted"] == 2 and done["scrubbed"]
    kept = _consents(store)
    assert [k["account_id"] for k in kept.values() if "account_id" in k] == ["F1-enrolled"]
    assert sum(1 for k in kept.values() if {kk: v for kk, v in k.items() if kk != "operator"} == REDACTED) == 2
    assert all(k["operator"] is None for k in kept.values() if "redacted" in k)
    assert purge(store, datetime.now(UTC) + timedelta(seconds=2))["consents_redacted"] == 0  # once
    # the journal goes on: the next batch follows the (unchanged) chain, and the books balance
    _consent(cashier.journal, "F1-later", declined=True)
    for b in batches(cashier.journal, cashier.key, after=3):
        ingest_bytes(store, encode(b))
    assert len(_consents(store)) == 4
    assert summary(store)["books_balance"] is True
