"""Face accounts in the back office: balances and holds, consent records from the journals, and an erasure
asked for by the support desk that every terminal then owes (pending until it confirms)."""

from __future__ import annotations

import re
from pathlib import Path

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.face import authorize, register_account
from sync.collector.ingest import ingest_many
from sync.collector.storage import Store
from sync.format.batch import encode
from terminal.config import EventKeys
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, make_terminal
from tests.sync.office_client import office_login as _login

PASSWORD = "correct horse 1"


def test_face_accounts_page_and_erasure_from_the_desk(tmp_path: Path, store: Store) -> None:
    term = make_terminal(tmp_path, 3, Cards(), store, role="cashier")
    register_account(store, "FA-anna", holder="Anna Petrova")
    register_account(store, "FA-bora", holder="Bora Kaya")
    store.execute("INSERT INTO face_ledger (entry_key, account_id, kind, amount, time) VALUES "
                  "('t1', 'FA-anna', 'topup', 3000, '2026-07-01T10:00:00Z')")
    authorize(store, "FA-anna", 700, terminal_id=3, request_id="request-0001")
    term.journal.append("face", "info", operator="op1", data={
        "event": "face_consent", "account_id": "FA-anna", "text": "face-consent-v1/en/sha256:" + "a" * 64 + "/7d",
        "operator": "op1"})
    term.journal.append("face", "info", operator="op1", data={
        "event": "face_consent", "account_id": "FA-bora", "text": "face-consent-v1/tr/declined", "operator": "op1"})
    ingest_many(store, [("x", encode(b)) for b in batches(term.journal, term.key)], workers=0)
    for role in ("support", "readonly"):
        set_user(store, role, PASSWORD, role=role)
    app = create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32)))
    reader, _ = _login(app, "readonly")
    page = reader.get("/face").text
    anna = re.search(r"<tr><td class=\"mono\">FA-anna</td>(.*?)</tr>", page, re.S)
    assert anna and "€30.00" in anna.group(1) and "€7.00" in anna.group(1) and "€23.00" in anna.group(1)
    assert "Erase template" not in page  # read-only
    assert page.count("face-consent-v1/en/sha256:") == 1 and "declined" in page
    support, csrf = _login(app, "support")
    assert support.post("/face/FA-bora/erase", data={"csrf": csrf, "reason": ""}).status_code == 422
    assert support.post("/face/FA-nobody/erase", data={"csrf": csrf, "reason": "asked"}).status_code == 404
    assert support.post("/face/FA-bora/erase", data={"csrf": csrf, "reason": "the guest asked"}).status_code == 303
    assert store.query("SELECT account_id FROM gallery_changes WHERE action = 'erase'") == [{"account_id": "FA-bora"}]
    erasures = re.search(r'id="face-erasures".*?</table>', support.get("/face").text, re.S)
    assert erasures and re.search(r"<td>3 [^<]*</td>.*?<td class=\"num\">1</td>", erasures.group(0), re.S)
    audit = store.query("SELECT username, action FROM audit_log WHERE target = 'face:FA-bora'")
    assert audit == [{"username": "support", "action": "face template erasure requested"}]
