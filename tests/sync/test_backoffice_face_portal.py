"""The guest portal for face accounts on a phone (390x844, Chromium) against a real `collector serve` on
PostgreSQL whose face accounts were enrolled, loaded and spent by paired terminals over HTTP: wrong digits
show nothing, repeated failures are rate-limited, the right digits show balance and history, the guest blocks
the account (the collector then refuses the stall), asks for a refund (a wrong IBAN saves nothing), finance
approves, exports a SEPA pain.001 file valid against the XSD, marks it paid; the account is closed in the books
and they balance. Screenshots: artifacts/back-office/portal-face-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from sync.collector.storage import open_store
from sync.collector.summary import summary
from terminal.wallet.face_accounts import FaceAccounts, FaceDeclined
from tests.sync.backoffice_faces import add_face_guests
from tests.sync.backoffice_pages import (  # noqa: F401  (fixtures: browser, collector)
    PAIN_001,
    VALID_IBAN,
    browser,
    collector,
    desk,
    phone,
    set_debtor,
    shot,
    valid_pain_001,
)
from tests.sync.backoffice_server import Collector

ANNA_PHONE, BORA_PHONE = "0176 5550 4711", "0151 2345 0815"


def euro(minor: int) -> str:
    return f"€{minor // 100:,}.{minor % 100:02d}"


def sign_in(page: Any, account: str, digits: str) -> None:
    page.fill("input[name=account]", account)
    page.fill("input[name=phone]", digits)
    page.click("button.primary")
    page.wait_for_load_state()


def test_face_guest_on_a_phone_blocks_and_is_refunded_by_sepa(
        browser: Any, collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> None:  # noqa: F811
    store = open_store(collector.dsn, migrate=False)
    before = summary(store)
    desks, (anna, bora) = add_face_guests(tmp_path_factory.mktemp("faces"), collector,
                                          [(ANNA_PHONE, 5_000, 1_250), (BORA_PHONE, 3_000, 700)])
    books = summary(store)
    assert books["books_balance"], books
    assert books["outstanding_face_accounts"] - before["outstanding_face_accounts"] == anna.balance + bora.balance
    bora_secret = euro(bora.balance)

    guest = phone(browser)
    guest.on("dialog", lambda dialog: dialog.accept())  # "Block this account?"
    guest.goto(f"{collector.url}/portal/face")
    assert guest.text_content("header b").strip() == "My face account"  # not "My wristband": no band here
    shot(guest, "portal-face-login")

    # wrong digits: a clear message, nothing of the account
    sign_in(guest, anna.account_id, "0176 5550 4712")
    assert "not recognised" in guest.text_content(".error")
    assert guest.locator("#balance").count() == 0 and guest.locator("#history").count() == 0
    shot(guest, "portal-face-wrong-digits")
    # Anna's digits with Bora's account: the same refusal, nothing of Bora's
    sign_in(guest, bora.account_id, ANNA_PHONE)
    assert "not recognised" in guest.text_content(".error")
    assert guest.locator("#balance").count() == 0 and bora_secret not in guest.content()

    # five tries per account in ten minutes: then even the right digits wait
    codes = []
    for digits in ("1111", "2222", "3333", "4444", BORA_PHONE):
        with guest.expect_response(lambda r: r.url.endswith("/portal/face/login")) as answer:
            sign_in(guest, bora.account_id, digits)
        codes.append(answer.value.status)
    assert codes == [401, 401, 401, 401, 429]
    assert "Too many attempts" in guest.text_content(".error")
    assert guest.locator("#balance").count() == 0 and bora_secret not in guest.content()
    shot(guest, "portal-face-rate-limited")

    # the right digits: balance in major units with the currency, history (newest first)
    sign_in(guest, anna.account_id, f" {ANNA_PHONE} ")
    guest.wait_for_selector("#balance")
    assert guest.text_content("#balance").strip() == euro(anna.balance) == "€37.50"
    assert guest.text_content("#status").strip() == "active"
    rows = [" ".join(li.text_content().split()) for li in guest.locator("#history li").all()]
    assert len(rows) == 2 and rows[0].startswith("Purchase") and rows[0].endswith("−€12.50")
    assert rows[1].startswith("Top-up") and rows[1].endswith("+€50.00")
    assert bora.account_id not in guest.content() and bora_secret not in guest.content()
    shot(guest, "portal-face-account")
    guest.locator("#history").scroll_into_view_if_needed()
    shot(guest, "portal-face-history")

    # blocked from the phone: the collector refuses the stall's next payment from the account at once
    guest.click("#freeze")
    guest.wait_for_selector(".message")
    assert "blocked" in guest.text_content(".message")
    assert guest.text_content("#status").strip() == "frozen"
    shot(guest, "portal-face-blocked")
    with pytest.raises(FaceDeclined):
        FaceAccounts(desks.stall.ts.journal).sale(anna.account_id, 300, score=0.82, second_factor="phone",
                                                  authorize=desks.stall.client.face_authorizer())

    # a refund to a wrong IBAN: a clear message, what was typed stays, nothing saved; then the right IBAN
    guest.fill("input[name=holder]", "Anna Gast")
    guest.fill("input[name=iban]", "DE89 3704 0044 0532 0130 01")
    guest.click("text=Request refund")
    assert "IBAN is not valid" in guest.text_content(".error")
    assert guest.input_value("input[name=holder]") == "Anna Gast"
    assert store.scalar("SELECT COUNT(*) FROM payout_requests WHERE account_id = ?", [anna.account_id]) == 0
    shot(guest, "portal-face-refund-invalid-iban")
    guest.fill("input[name=iban]", "DE89 3704 0044 0532 0130 00")
    guest.click("text=Request refund")
    guest.wait_for_selector(".message")
    assert "refund request is received" in guest.text_content(".message")
    assert guest.locator("form#refund").count() == 0
    request_id = store.scalar("SELECT request_id FROM payout_requests WHERE account_id = ?", [anna.account_id])
    assert store.scalar("SELECT amount FROM payout_requests WHERE request_id = ?", [request_id]) == anna.balance
    shot(guest, "portal-face-refund-requested")

    # finance approves, exports the SEPA file (valid against pain.001.001.03), marks it paid
    finance = desk(browser, collector, "finance")
    finance.goto(f"{collector.url}/payouts")
    set_debtor(finance)
    finance.locator("#payouts tr", has_text=anna.account_id).locator("text=Approve").click()
    finance.wait_for_selector("#payouts >> text=approved")
    with finance.expect_download() as download:
        finance.click("#export")
    doc = valid_pain_001(download.value.path().read_bytes())
    assert doc.findtext(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN", namespaces=PAIN_001) == VALID_IBAN
    assert doc.findtext(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=PAIN_001) == "37.50"
    assert anna.account_id in doc.findtext(".//p:CdtTrfTxInf/p:RmtInf/p:Ustrd", namespaces=PAIN_001)
    finance.goto(f"{collector.url}/payouts")
    finance.click("text=Mark paid: close the cards")
    finance.wait_for_selector(".message")

    # closed in the books, which balance; the guest sees it
    assert store.scalar("SELECT status FROM face_accounts WHERE account_id = ?", [anna.account_id]) == "closed"
    assert store.scalar("SELECT status FROM payout_requests WHERE request_id = ?", [request_id]) == "paid"
    after = summary(store)
    assert after["books_balance"], after
    assert after["refunded"] - books["refunded"] == anna.balance
    assert books["outstanding_face_accounts"] - after["outstanding_face_accounts"] == anna.balance
    guest.goto(f"{collector.url}/portal/face")
    assert guest.text_content("#status").strip() == "closed"
    assert guest.text_content("#balance").strip() == "€0.00"
    assert guest.locator("form#refund").count() == 0 and guest.locator("#freeze").count() == 0
    shot(guest, "portal-face-refunded")
    # the same page in the guest's language (the longest words of the four)
    guest.goto(f"{collector.url}/language/bg")
    guest.goto(f"{collector.url}/portal/face")
    assert guest.text_content("header b").strip() == "Моят лицев акаунт"
    shot(guest, "portal-face-refunded-bg")
