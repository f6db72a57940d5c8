"""The guest portal for face accounts: account id and phone digits show that one account's balance and
history; wrong digits are refused and rate-limited; a cookie opens only the account it was made for."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.face import register_account
from sync.collector.face_gallery import phone_digest
from sync.collector.storage import Store
from sync.format.face_keys import phone_hash
from terminal.config import EventKeys
from tests.sync.journals import EVENT

MASTER = bytes(range(16))


def _login(client: TestClient, account: str, phone: str) -> int:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/portal/face").text)
    assert token
    return client.post("/portal/face/login", data={"csrf": token.group(1), "account": account,
                                                   "phone": phone}).status_code


def test_face_guest_sees_only_their_account(store: Store) -> None:
    register_account(store, "FA-anna", holder="Anna", phone_hash=phone_hash(MASTER, EVENT, "FA-anna", "4711"))
    register_account(store, "FA-bora", holder="Bora", phone_hash=phone_digest(store, "0815"))
    store.execute("INSERT INTO face_ledger (entry_key, account_id, kind, amount, time) VALUES "
                  "('a1', 'FA-anna', 'topup', 2000, '2026-07-01T10:00:00Z'), "
                  "('a2', 'FA-anna', 'sale', -450, '2026-07-01T11:00:00Z'), "
                  "('b1', 'FA-bora', 'topup', 9900, '2026-07-01T10:00:00Z')")
    app = create_app(store, EventKeys(event_id=EVENT, master_key=MASTER, terminal_signing_key=bytes(32)))
    guest = TestClient(app, follow_redirects=False)
    assert _login(guest, "FA-anna", "4712") == 401
    assert _login(guest, "FA-anna", " 47-11 ") == 303
    page = guest.get("/portal/face").text
    assert 'id="balance">€15.50<' in page and "Bora" not in page and "€99.00" not in page and "Purchase" in page
    cookie = guest.cookies.get("stallpay_guest_face")
    assert cookie and cookie.startswith("FA-anna.")
    forged = TestClient(app, follow_redirects=False)
    forged.cookies.set("stallpay_guest_face", cookie.replace("FA-anna", "FA-bora"), path="/portal")
    assert "€99.00" not in forged.get("/portal/face").text and 'name="phone"' in forged.get("/portal/face").text
    other = TestClient(app, follow_redirects=False)
    assert _login(other, "FA-bora", "0815") == 303  # the salted, peppered form of the digits
    assert 'id="balance">€99.00<' in other.get("/portal/face").text
    codes = [_login(TestClient(app, follow_redirects=False), "FA-bora", "1111") for _ in range(6)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429, 429]  # five tries per account in ten minutes
    assert _login(TestClient(app, follow_redirects=False), "../etc", "4711") == 401
    assert guest.post("/portal/face/logout").status_code == 303
