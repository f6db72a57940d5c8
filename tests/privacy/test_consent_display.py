"""The guest confirms face consent on the customer display in Chromium at 800x480: the cashier asks, the display
shows the exact text with "I agree" / "No", capture opens only after the guest's "I agree"; later the cashier's
withdrawal button erases the template. Screenshots under artifacts/privacy/."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.journeys.face_fixtures import face_browser, login, new_page  # noqa: F401  (fixture)
from tests.ui.conftest import DemoServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "privacy"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_guest_confirms_on_the_display_then_withdraws(demo: DemoServer, face_browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    cashier, display = new_page(face_browser), new_page(face_browser)
    display.goto(demo.url + "/display")
    login(cashier, demo.url, "2", "2222")
    cashier.goto(demo.url + "/cashier")
    cashier.get_by_test_id("tab-face").click()
    cashier.get_by_test_id("consent-bg").click()
    text = cashier.get_by_test_id("consent-text").inner_text()
    with demo.client() as c:
        assert c.post("/sim/api/face", json={"photo": "biden.jpg"}).status_code == 200
    cashier.get_by_test_id("consent-agree").click()
    # the cashier waits; the capture step stays closed
    expect(cashier.get_by_test_id("consent-status")).to_have_attribute("data-status", "waiting")
    expect(cashier.get_by_test_id("enroll-capture")).to_be_hidden()
    shot(cashier, "01-cashier-waiting")
    # the display shows the same words, in Bulgarian, with the retention days
    expect(display.get_by_test_id("display-consent-text")).to_have_text(text)
    assert f"{demo.kiosk.config.camera.retention_days}" in text
    expect(display.get_by_test_id("display-consent-agree")).to_be_visible()
    expect(display.get_by_test_id("display-consent-decline")).to_be_visible()
    shot(display, "02-display-consent")
    display.get_by_test_id("display-consent-agree").click()
    expect(display.get_by_test_id("display-consent")).to_be_hidden()
    expect(cashier.get_by_test_id("consent-status")).to_have_attribute("data-status", "agreed")
    cashier.get_by_test_id("enroll-capture").click()
    expect(cashier.get_by_test_id("enroll-result")).to_have_text("Face enrolled")
    account = cashier.get_by_test_id("enroll-account").input_value()
    assert account in demo.kiosk.face.gallery
    shot(cashier, "03-enrolled")
    with sqlite3.connect(demo.kiosk.config.data_dir / "face.db") as db:
        (text_id,) = db.execute("SELECT consent_text_id FROM face_consents WHERE account_id = ?", [account]).fetchone()
    assert text_id.startswith("face-consent-v1/bg/sha256:") and text_id.endswith("/guest_display")

    # later: the guest withdraws consent at the cashier; the button confirms first
    cashier.get_by_test_id("face-account-id").fill(account)
    cashier.once("dialog", lambda d: d.accept())
    cashier.get_by_test_id("face-withdraw").click()
    expect(cashier.get_by_test_id("face-account-result")).to_have_attribute("data-withdrawn", "yes")
    expect(cashier.get_by_test_id("face-account-result")).to_contain_text(account)
    cashier.get_by_test_id("face-account-result").scroll_into_view_if_needed()
    shot(cashier, "04-withdrawn")
    assert account not in demo.kiosk.face.gallery
    erasures = demo.kiosk.sync.pending_face_uploads()["erasures"]
    assert account in [e["account_id"] for e in erasures]
    cashier.context.close()
    display.context.close()
