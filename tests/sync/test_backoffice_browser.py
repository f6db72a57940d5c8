"""The back office and the guest portal in Chromium against a real `collector serve` on PostgreSQL with a
`stallpay sim` event: login, dashboard = summary (live as a terminal syncs), card search -> block -> the
terminal's next bundle carries it -> the terminal refuses the band, portal refund -> finance approval ->
SEPA pain.001 valid against the XSD -> paid -> books balance. Screenshots go to artifacts/back-office/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sync.collector.backoffice.guest_access import card_secret
from sync.collector.reports import by_vendor
from sync.collector.storage import open_store
from sync.collector.summary import summary
from terminal.config import new_keys_text, write_config, write_secret_file
from tests.sync.backoffice_pages import (  # noqa: F401  (fixtures: browser, collector)
    ARTIFACTS,
    PAIN_001,
    VALID_IBAN,
    Till,
    browser,
    collector,
    desk,
    phone,
    set_debtor,
    shot,
    valid_pain_001,
)
from tests.sync.backoffice_server import SIM_EVENT, Collector


def figure(page: Any, key: str) -> int:
    return int(page.get_attribute(f"#fig-{key}", "data-minor"))


def test_dashboard_equals_summary_and_follows_a_syncing_terminal(browser: Any, collector: Collector,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    from terminal.nfc.emulator import NtagEmulator

    page = desk(browser, collector, "admin")
    store = open_store(collector.dsn, migrate=False)
    books = summary(store)
    assert books["books_balance"] and books["deposited"] > 0
    for key in ("deposited", "spent", "refunded", "forfeited_complimentary", "outstanding"):
        assert figure(page, key) == books[key], key
    assert page.text_content("#fig-deposited") == f"€{books['deposited'] // 100:,}.{books['deposited'] % 100:02d}"
    page.wait_for_selector("#live.on")
    shot(page, "dashboard")

    # the admin pairs a terminal from the terminals page (code and QR), the terminal pairs with it
    page.click("nav >> text=Terminals")
    page.select_option("select[name=role]", "cashier")
    page.fill("input[name=vendor]", "Desk")
    page.click("text=New pairing code")
    code = page.text_content("#pairing-code").strip()
    assert page.locator(".qr svg").count() == 1
    # a vendor's name reads on one line: "vendor-1" does not break at its hyphen (one line box for its text)
    lines = "e => { const r = document.createRange(); r.selectNodeContents(e); return r.getClientRects().length }"
    assert [c.evaluate(lines) for c in page.locator("#terminals td.name").all()] == [1, 1, 1, 1]
    self_test = page.locator("#terminals thead th").nth(10)
    assert self_test.evaluate(lines) == 1  # "Self-test" does not break at its hyphen: a U+2011 in the page
    assert self_test.text_content() == "Self\u2011test"
    shot(page, "terminals-pairing")
    till = Till(tmp_path, collector, 20)
    assert till.client.pair(code)["role"] == "cashier"

    # a wristband is issued and synced while the dashboard is open: the figures follow without a reload
    page.click("nav >> text=Dashboard")
    page.wait_for_selector("#live.on")
    band = NtagEmulator("NTAG215", uid=bytes.fromhex("04a1b2c3d4e5f6"))
    card_id = till.tap(band, "issue", 5000, method="cash").state.card_id
    till.client.sync_once()
    page.wait_for_function(f"document.getElementById('fig-deposited').dataset.minor == '{books['deposited'] + 5000}'",
                           timeout=15_000)
    assert figure(page, "outstanding") == books["outstanding"] + 5000
    after = summary(store)
    assert after["books_balance"] and after["deposited"] == books["deposited"] + 5000

    # support desk: search the card, block it; the terminal's next bundle carries it and the band is refused
    support = desk(browser, collector, "support")
    support.click("nav >> text=Cards")
    support.fill("input[name=q]", str(card_id))
    support.press("input[name=q]", "Enter")
    support.wait_for_url(re.compile(rf".*/cards/{card_id}$"))
    assert support.text_content("#card-status").strip() == "active"
    assert support.text_content("#card-balance").strip() == "€50.00"
    shot(support, "card")
    support.fill("form[action$='/block'] input[name=reason]", "lost at the stage")
    support.click("form[action$='/block'] button")
    support.wait_for_selector("#card-status.blocked")
    assert support.locator("form[action$='/refund']").count() == 0  # support cannot refund
    shot(support, "card-blocked")
    from terminal.wallet.rules import Declined

    result = till.client.sync_once()
    assert result["bundle"]
    with pytest.raises(Declined) as refused:
        till.tap(band, "charge", 500)
    assert refused.value.code == "blocked"
    assert card_id in {r["card_id"] for r in store.query("SELECT card_id FROM hotlist")}

    # the audit log names who blocked it, and when
    page.click("nav >> text=Audit log")
    row = page.locator("#audit tr", has_text=f"card:{card_id}").first
    assert "support" in row.text_content() and "lost at the stage" in row.text_content()
    shot(page, "audit")
    s = summary(store)
    assert s["books_balance"] and not {"clone", "rollback", "balance_jump"} & set(s["anomalies"])


def test_filtered_dashboard_follows_only_its_vendors_batches(browser: Any, collector: Collector,  # noqa: F811
                                                            tmp_path: Path) -> None:
    """A dashboard narrowed to vendor A stays live: a batch of A's terminal uploaded over HTTP moves its figures,
    one of vendor B's does not (the page has seen B's batch: its data version is the collector's)."""
    from sync.collector.backoffice.dashboard import version
    from sync.collector.enrollment import new_pairing_code
    from terminal.nfc.emulator import NtagEmulator

    store = open_store(collector.dsn, migrate=False)
    tills = {}
    for terminal_id, vendor in ((41, "Stall A"), (42, "Stall B")):
        tills[vendor] = Till(tmp_path, collector, terminal_id)
        code = new_pairing_code(store, role="cashier", vendor=vendor)
        assert tills[vendor].client.pair(code)["role"] == "cashier"
    before = summary(store)
    page = desk(browser, collector, "admin")
    page.goto(f"{collector.url}/?vendor=Stall+A")
    assert page.get_attribute("#live", "data-src") == "/live?vendor=Stall+A"
    page.wait_for_selector("#live.on")
    assert (figure(page, "deposited"), figure(page, "spent")) == (0, 0)

    def synced(vendor: str, uid: str, amount: int) -> None:
        tills[vendor].tap(NtagEmulator("NTAG215", uid=bytes.fromhex(uid)), "issue", amount, method="cash")
        assert tills[vendor].client.sync_once()["batches"] >= 1  # uploaded over HTTP to `collector serve`

    synced("Stall A", "04a1b2c3d4e541", 3000)
    page.wait_for_function("document.getElementById('fig-deposited').dataset.minor == '3000'", timeout=15_000)
    synced("Stall B", "04a1b2c3d4e542", 7000)
    now = str(version(store))
    page.wait_for_function(f"document.querySelector('section.figures').dataset.version == {now!r}",
                           timeout=15_000)
    assert figure(page, "deposited") == 3000  # B's batch is in the books, not in A's slice
    assert summary(store)["deposited"] == before["deposited"] + 10_000
    # the figures are the collector's summary of that slice (its CSV export, filtered the same way)
    rows = {line.split(",")[0]: line.split(",")[1] for line in page.request.get(
        f"{collector.url}/reports/summary?format=csv&vendor=Stall+A").text().splitlines()[1:]}
    for key in ("deposited", "spent", "refunded"):
        shown = figure(page, key)
        assert rows[key] == f"{shown // 100}.{shown % 100:02d}", key
    assert page.text_content("#fig-outstanding").strip() == "—"  # the event's, not a slice's
    shot(page, "dashboard-vendor-live")


def test_portal_refund_approved_exported_as_valid_sepa_and_paid(
        browser: Any, collector: Collector) -> None:  # noqa: F811
    store = open_store(collector.dsn, migrate=False)
    row = store.query("SELECT r.card_id FROM (SELECT DISTINCT card_id FROM entries WHERE op = 'issue' AND "
                      "phase = 'commit' AND method = 'cash') r WHERE r.card_id NOT IN (SELECT card_id FROM hotlist) "
                      "AND r.card_id NOT IN (SELECT card_id FROM cards) ORDER BY r.card_id")
    from sync.collector.refunds import refundable

    card_id = next(r["card_id"] for r in row if refundable(store, [r["card_id"]])
                   and refundable(store, [r["card_id"]])[0]["refundable"] > 0)
    due = refundable(store, [card_id])[0]["refundable"]

    guest = phone(browser)
    guest.goto(f"{collector.url}/portal")
    shot(guest, "portal-login")  # the face portal's pages: test_backoffice_face_portal.py
    guest.fill("input[name=card]", str(card_id))
    guest.fill("input[name=secret]", "WRON-GONE")
    guest.click("button.primary")
    assert "not recognised" in guest.text_content(".error")
    guest.fill("input[name=card]", str(card_id))
    guest.fill("input[name=secret]", card_secret(store, card_id).lower())
    guest.click("button.primary")
    guest.wait_for_selector("#balance")
    assert guest.text_content("#status").strip() == "active"
    shot(guest, "portal-card")
    guest.fill("input[name=holder]", "Ayşe Yılmaz")
    guest.fill("input[name=iban]", "DE89 3704 0044 0532 0130 01")  # one digit wrong
    guest.click("text=Request refund")
    assert "IBAN is not valid" in guest.text_content(".error")
    assert guest.input_value("input[name=holder]") == "Ayşe Yılmaz"  # nothing typed is lost
    guest.fill("input[name=iban]", "DE89 3704 0044 0532 0130 00")
    guest.click("text=Request refund")
    guest.wait_for_selector(".message")
    assert guest.text_content("#status").strip() == "blocked"
    shot(guest, "portal-refund-requested")

    # support desk sees it but cannot approve; finance approves, exports, marks paid
    support = desk(browser, collector, "support")
    support.goto(f"{collector.url}/payouts")
    assert support.locator("text=Approve").count() == 0
    finance = desk(browser, collector, "finance")
    finance.goto(f"{collector.url}/payouts")
    set_debtor(finance)
    finance.locator("#payouts tr", has_text=str(card_id)).locator("text=Approve").click()
    finance.wait_for_selector("#payouts >> text=approved")
    shot(finance, "payouts")
    with finance.expect_download() as download:
        finance.click("#export")
    xml = Path(download.value.path()).read_bytes()
    # the file is kept: finance downloads the same bytes again; the support desk may not
    stored = f"{collector.url}/payouts/exports/{download.value.suggested_filename.removesuffix('.xml')}/xml"
    again = finance.request.get(stored)
    assert again.status == 200 and again.body() == xml
    assert support.request.get(stored).status == 403
    doc = valid_pain_001(xml)
    ns = PAIN_001
    assert doc.findtext(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN", namespaces=ns) == VALID_IBAN
    assert doc.findtext(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns) == f"{due // 100}.{due % 100:02d}"
    finance.goto(f"{collector.url}/payouts")
    finance.click("text=Mark paid: close the cards")
    finance.wait_for_selector(".message")
    shot(finance, "payouts-paid")
    s = summary(store)
    assert s["books_balance"], s
    assert store.scalar("SELECT refunded FROM cards WHERE card_id = ?", [card_id]) == due
    guest.reload()
    assert guest.text_content("#status").strip() == "refunded"
    assert guest.text_content("#balance").strip() == "€0.00"


def test_every_page_renders_and_reports_download(browser: Any, collector: Collector) -> None:  # noqa: F811
    page = desk(browser, collector, "admin")
    for name, path in (("cards-search", "/cards?q=vendor"), ("accounts", "/accounts"), ("reports", "/reports"),
                       ("events", "/events"), ("face-accounts", "/face"),
                       ("catalogue", "/catalogue")):
        page.goto(f"{collector.url}{path}")
        shot(page, name)
    page.goto(f"{collector.url}/reports")
    names = [a.get_attribute("href").split("/")[-1] for a in page.locator("ul.reports > li > a").all()]
    assert {"summary", "days", "months", "vendors", "settlement", "cash"} <= set(names)
    store = open_store(collector.dsn, migrate=False)
    books = summary(store)
    for name in names:
        answer = page.goto(f"{collector.url}/reports/{name}")
        assert answer.status == 200, name
        shot(page, f"report-{name}")
        csv_text = page.request.get(f"{collector.url}/reports/{name}?format=csv").text()
        assert csv_text.splitlines()[0].endswith("currency")
        pdf = page.request.get(f"{collector.url}/reports/{name}?format=pdf")
        assert pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"
    summary_csv = page.request.get(f"{collector.url}/reports/summary?format=csv").text()
    assert f"deposited,{books['deposited'] // 100}.{books['deposited'] % 100:02d},EUR" in summary_csv
    vendor = store.query("SELECT vendor FROM terminals WHERE role = 'sale' ORDER BY terminal_id")[0]["vendor"]
    pdf = page.request.get(f"{collector.url}/reports/settlement/{vendor}/pdf?commission=10")
    assert pdf.status == 200 and pdf.body()[:4] == b"%PDF"
    (ARTIFACTS / f"settlement-{vendor}.pdf").write_bytes(pdf.body())
    # the dashboard narrows to one vendor like the reports do (and stays live with that slice)
    page.goto(f"{collector.url}/")
    page.select_option("#filters select[name=vendor]", vendor)
    page.click("#filters button")
    page.wait_for_url("**/?*vendor=*")
    page.wait_for_selector("#live.on")
    net = next(r["net"] for r in by_vendor(store) if r["vendor"] == vendor)
    assert figure(page, "spent") == net < books["spent"]
    shot(page, "dashboard-vendor")
    page.goto(f"{collector.url}/language/tr")
    page.goto(f"{collector.url}/")
    assert page.locator("nav >> text=Kartlar").count() == 1
    shot(page, "dashboard-tr")


def test_operator_added_centrally_logs_in_after_sync_and_is_refused_once_disabled(
        browser: Any, collector: Collector, tmp_path: Path) -> None:  # noqa: F811
    import json
    import subprocess

    from fastapi.testclient import TestClient

    from sync.collector.enrollment import new_pairing_code
    from terminal.nfc.emulated import EmulatedReader
    from terminal.ui.server import create_app
    from terminal.wiring import open_terminal
    from tests.sync.backoffice_server import stallpay

    page = desk(browser, collector, "admin")
    page.click("nav >> text=Operators")
    page.fill("#add-operator input[name=operator_id]", "anna7")
    page.fill("#add-operator input[name=name]", "Anna Petrova")
    page.select_option("#add-operator select[name=role]", "cashier")
    page.fill("#add-operator input[name=pin]", "2468")
    page.click("#add-operator button")
    page.wait_for_selector("#operators >> text=anna7")
    shot(page, "operators")
    store = open_store(collector.dsn, migrate=False)
    assert "2468" not in json.dumps(store.query("SELECT * FROM audit_log WHERE target = 'operator:anna7'"))

    # a terminal pairs and syncs with the real CLI over HTTP; its kiosk then lets the operator in, offline
    d = tmp_path / "till31"
    write_secret_file(d / "keys.toml", new_keys_text(SIM_EVENT, collector.master_key))
    write_config(d / "terminal.toml", {"event": {"id": SIM_EVENT, "currency": "EUR"},
                                       "terminal": {"id": 31, "vendor": "Desk", "mode": "cashier"},
                                       "paths": {"data": "data", "keys": "keys.toml"}})
    code = new_pairing_code(store, role="cashier", vendor="Desk")

    def cli(*args: str) -> dict:
        done = subprocess.run([stallpay(), "sync", *args, "--config", str(d / "terminal.toml"), "--url",
                               collector.url], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}

    cli("pair", "--code", code)
    cli("upload")
    terminal = open_terminal(d / "terminal.toml", printer=False, gpio=False, reader=EmulatedReader("till31"),
                          collector_url="")
    with TestClient(create_app(terminal)) as kiosk:
        answer = kiosk.post("/api/login", json={"operator": "anna7", "pin": "2468"})
        assert answer.status_code == 200 and answer.json()["role"] == "cashier"
        assert kiosk.post("/api/login", json={"operator": "anna7", "pin": "1357"}).status_code == 403

        # disabled centrally: refused at the terminal after its next sync
        page.on("dialog", lambda dialog: dialog.accept())
        page.locator("#operators tr", has_text="anna7").locator("text=Disable").click()
        page.wait_for_selector("#operators >> text=disabled")
        assert kiosk.post("/api/login", json={"operator": "anna7", "pin": "2468"}).status_code == 200
        cli("upload")
        refused = kiosk.post("/api/login", json={"operator": "anna7", "pin": "2468"})
        assert refused.status_code == 403 and refused.json()["code"] == "login_failed"
    actions = [r["action"] for r in store.query("SELECT action FROM audit_log WHERE target = 'operator:anna7'")]
    assert sorted(actions) == ["operator added", "operator disabled"]


def test_api_reference_renders_with_no_internet(browser: Any, collector: Collector) -> None:  # noqa: F811
    """/docs is Swagger UI shipped in the package: with every request off 127.0.0.1 refused (a festival office
    with no uplink), the operations are listed; the page asked for nothing elsewhere."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    elsewhere: list[str] = []

    def local_only(route: Any) -> None:
        if route.request.url.startswith(collector.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{collector.url}/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/api/v1/batches']")
    assert page.locator(".opblock").count() >= 10
    assert elsewhere == []
    assert page.get_attribute("link[rel='shortcut icon']", "href") == "/static/docs/swagger-ui-favicon.png"
    assert page.request.get(f"{collector.url}/redoc").status == 404  # ReDoc is a CDN page: not offered
    shot(page, "api-docs")
