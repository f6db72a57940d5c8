"""The guest portal for face accounts: account id and phone digits show that one account's balance and
history; wrong digits are refused and rate-limited; a cookie opens only the account it was made for; a wrong
IBAN or BIC is refused in words that say what to check, and nothing is saved."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.backoffice.language import gettext
from sync.collector.face import register_account
from sync.collector.face_gallery import phone_digest
from sync.collector.storage import Store
from sync.format.face_keys import phone_hash
from terminal.config import EventKeys
from tests.sync.journals import EVENT
from tests.sync.test_portal_card import BAD_ACCOUNTS, GOOD_IBAN, IDS, error_of

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


def _office(app: object, store: Store, username: str) -> tuple[TestClient, str]:
    from sync.collector.auth import set_user

    set_user(store, username, "correct horse 1", role=username)
    client = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    assert client.post("/login", data={"csrf": token.group(1), "username": username,
                                       "password": "correct horse 1"}).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/cards").text)
    assert csrf
    return client, csrf.group(1)


def test_face_guest_freezes_and_is_refunded_by_sepa(store: Store, tmp_path: Path) -> None:
    from lxml import etree

    from sync.collector.face import authorize
    from sync.collector.summary import summary
    from terminal.wallet.face_accounts import FaceAccounts
    from tests.sync.test_face_accounts import _terminal, _upload

    register_account(store, "FA-anna", holder="Anna", phone_hash=phone_hash(MASTER, EVENT, "FA-anna", "4711"))
    register_account(store, "FA-bora", holder="Bora", phone_hash=phone_hash(MASTER, EVENT, "FA-bora", "0815"))
    cashier, _keys = _terminal(tmp_path, store, 1, "cashier")  # the guests pay in cash at a cashier point
    FaceAccounts(cashier.journal).topup("FA-anna", 2000, method="cash", operator="c")
    FaceAccounts(cashier.journal).topup("FA-bora", 3000, method="cash", operator="c")
    _upload(store, cashier)
    before = summary(store)
    assert before["books_balance"] and before["outstanding_face_accounts"] == 5000, before
    app = create_app(store, EventKeys(event_id=EVENT, master_key=MASTER, terminal_signing_key=bytes(32)))
    bora = TestClient(app, follow_redirects=False)
    assert _login(bora, "FA-bora", "0815") == 303
    csrf = re.search(r'name="csrf" value="([0-9a-f]{32})"', bora.get("/portal/face").text)
    assert csrf
    # blocking needs the page's token; then the collector refuses every payment from the account
    assert bora.post("/portal/face/block", data={"csrf": "forged"}).status_code == 401
    assert "blocked" in bora.post("/portal/face/block", data={"csrf": csrf.group(1)}).text
    assert not authorize(store, "FA-bora", 100, terminal_id=1, request_id="request-1")["approved"]

    anna = TestClient(app, follow_redirects=False)
    assert _login(anna, "FA-anna", "4711") == 303
    csrf = re.search(r'name="csrf" value="([0-9a-f]{32})"', anna.get("/portal/face").text)
    assert csrf
    bad = anna.post("/portal/face/refund", data={"csrf": csrf.group(1), "holder": "Anna Gast",
                                                 "iban": "DE89370400440532013001"})
    assert bad.status_code == 422 and "IBAN" in bad.text
    asked = anna.post("/portal/face/refund", data={"csrf": csrf.group(1), "holder": "Anna Gast",
                                                   "iban": "DE89 3704 0044 0532 0130 00"})
    assert asked.status_code == 200 and "€20.00" in asked.text
    assert store.scalar("SELECT status FROM face_accounts WHERE account_id = 'FA-anna'") == "frozen"
    again = anna.post("/portal/face/refund", data={"csrf": csrf.group(1), "holder": "Anna Gast",
                                                   "iban": "DE89370400440532013000"})
    assert again.status_code == 422
    request_id = store.scalar("SELECT request_id FROM payout_requests WHERE account_id = 'FA-anna'")

    support, support_csrf = _office(app, store, "support")
    assert support.post(f"/payouts/{request_id}/approve", data={"csrf": support_csrf}).status_code == 403
    finance, fcsrf = _office(app, store, "finance")
    assert finance.post("/payouts/debtor", data={"csrf": fcsrf, "name": "Festival GmbH",
                                                 "iban": "DE02120300000000202051", "bic": "BYLADEM1001"}
                        ).status_code < 400
    assert finance.post(f"/payouts/{request_id}/approve", data={"csrf": fcsrf}).status_code < 400
    exported = finance.post("/payouts/export", data={"csrf": fcsrf})
    assert exported.status_code < 400, exported.text[:300]
    export_id = store.scalar("SELECT export_id FROM payout_requests WHERE request_id = ?", [request_id])
    xml = finance.get(f"/payouts/exports/{export_id}/xml").content
    doc = etree.fromstring(xml)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert doc.findtext(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns) == "20.00"
    assert "FA-anna" in doc.findtext(".//p:RmtInf/p:Ustrd", namespaces=ns)
    assert finance.post(f"/payouts/exports/{export_id}/paid", data={"csrf": fcsrf}).status_code < 400
    assert store.scalar("SELECT status FROM face_accounts WHERE account_id = 'FA-anna'") == "closed"
    assert store.scalar("SELECT status FROM payout_requests WHERE request_id = ?", [request_id]) == "paid"
    books = summary(store)
    assert books["refunded"] - before["refunded"] == 2000
    assert before["outstanding"] - books["outstanding"] == 2000
    assert before["outstanding_face_accounts"] - books["outstanding_face_accounts"] == 2000
    assert books["books_balance"] and books["anomalies"] == {}, books


@pytest.mark.parametrize(("iban", "bic", "message"), BAD_ACCOUNTS, ids=IDS)
def test_a_wrong_account_is_refused_in_words_that_say_what_to_check(store: Store, iban: str, bic: str,
                                                                      message: str) -> None:
    register_account(store, "FA-anna", holder="Anna", phone_hash=phone_hash(MASTER, EVENT, "FA-anna", "4711"))
    store.execute("INSERT INTO face_ledger (entry_key, account_id, kind, amount, time) VALUES "
                  "('a1', 'FA-anna', 'topup', 2000, '2026-07-01T10:00:00Z')")
    app = create_app(store, EventKeys(event_id=EVENT, master_key=MASTER, terminal_signing_key=bytes(32)))
    anna = TestClient(app, follow_redirects=False)
    assert _login(anna, "FA-anna", "4711") == 303
    csrf = re.search(r'name="csrf" value="([0-9a-f]{32})"', anna.get("/portal/face").text)
    assert csrf
    answer = anna.post("/portal/face/refund", data={"csrf": csrf.group(1), "holder": "Anna Gast", "iban": iban,
                                                    "bic": bic})
    assert answer.status_code == 422
    assert error_of(answer.text) == message
    assert "Invalid" not in answer.text and "doesn't match" not in answer.text
    assert 'value="Anna Gast"' in answer.text and f'value="{html.escape(iban)}"' in answer.text
    assert f'name="bic" value="{html.escape(bic)}"' in answer.text
    assert store.scalar("SELECT COUNT(*) FROM payout_requests") == 0
    assert store.scalar("SELECT status FROM face_accounts WHERE account_id = 'FA-anna'") == "active"
    anna.cookies.set("stallpay_lang", "bg")  # the same refusal in the guest's language
    answer = anna.post("/portal/face/refund", data={"csrf": csrf.group(1), "holder": "Anna Gast", "iban": iban,
                                                    "bic": bic})
    assert error_of(answer.text) == gettext("bg", message) != message
    asked = anna.post("/portal/face/refund", data={"csrf": csrf.group(1), "holder": "Anna Gast",
                                                   "iban": GOOD_IBAN})
    assert asked.status_code == 200 and store.scalar("SELECT amount FROM payout_requests") == 2000
