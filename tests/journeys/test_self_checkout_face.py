"""Journey 3, self-checkout face pay: barcode scan -> the customer display shows the item lines, quantities and
total -> the face in a drawn oval -> first payment here bound by the last 4 phone digits -> payment successful ->
receipt "Paid by face" with the balance left. With nobody in front of the camera, face pay gives up and the cart
is still there."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from terminal.commands.demo import CATALOGUE, FACE_ACCOUNT, FACE_PHONE
from tests.journeys.face_fixtures import face_browser, login, new_page, shot  # noqa: F401  (fixture)
from tests.ui.conftest import DemoServer, demo_template, face_pipeline, serve_demo  # noqa: F401  (fixtures)

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect

J = "self-checkout-face"
BEER = next(p for p in CATALOGUE if p["sku"] == "BEER")
WATER = next(p for p in CATALOGUE if p["sku"] == "WATER")


@pytest.fixture
def self_checkout(demo_template: Path, tmp_path: Path, face_pipeline: Any) -> Iterator[DemoServer]:  # noqa: F811
    """The demo terminal as a self-checkout: binding on first use on, a short no-face timeout."""
    folder = tmp_path / "checkout"
    shutil.copytree(demo_template, folder)
    config = folder / "terminal.toml"
    data = tomllib.loads(config.read_text())
    data["camera"].update({"bind_on_first_use": True, "no_face_timeout_s": 3.0})
    config.write_text(tomli_w.dumps(data))
    with serve_demo(config, face_pipeline) as server:
        yield server


def _show(demo: DemoServer, photo: str) -> None:
    with demo.client() as c:
        assert c.post("/sim/api/face", json={"photo": photo}).status_code == 200


def test_self_checkout_face_pay(self_checkout: DemoServer, face_browser: Any) -> None:  # noqa: F811
    demo = self_checkout
    page = new_page(face_browser)
    display = new_page(face_browser)
    login(page, demo.url, "1", "1111")
    display.goto(demo.url + "/display")
    for code in (BEER["barcode"], BEER["barcode"], WATER["barcode"]):
        page.get_by_test_id("scan-input").fill(code)
        page.get_by_test_id("scan-input").press("Enter")
    expect(page.get_by_test_id("total")).to_have_text("€11.00")
    lines = display.get_by_test_id("display-lines").locator("tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("2")
    expect(lines.nth(0)).to_contain_text("Beer 0.5 l")
    expect(lines.nth(0)).to_contain_text("€9.00")
    expect(display.get_by_test_id("display-total")).to_have_text("€11.00")
    shot(display, J, "01-display-cart")

    # nobody at the camera: face pay gives up after the set time, and the cart is still there
    _show(demo, "")
    page.get_by_test_id("pay-face").click()
    expect(display.get_by_test_id("display-face-oval")).to_be_visible()
    expect(page.get_by_test_id("reason")).to_contain_text("No face seen", timeout=15_000)
    shot(page, J, "02-no-face-gave-up")
    assert [e["data"]["code"] for e in demo.kiosk.journal.entries() if e["op"] == "decline"] == ["no_face"]
    page.locator("#flow .p-declined button").first.click()
    expect(page.get_by_test_id("total")).to_have_text("€11.00")

    # the guest looks at the camera: first payment here, so the phone digits bind the face
    _show(demo, "obama3.jpg")
    page.get_by_test_id("pay-face").click()
    expect(display.get_by_test_id("display-face-oval")).to_be_visible()
    shot(display, J, "03-display-oval")
    expect(page.get_by_test_id("factor-guidance")).to_contain_text("last 4 digits of your phone")
    shot(page, J, "04-binding-digits")
    page.get_by_test_id("factor-digits").fill(FACE_PHONE)
    page.get_by_test_id("factor-ok").click()
    expect(page.get_by_test_id("approved")).to_be_visible()
    expect(page.get_by_test_id("balance-left")).to_have_text("€39.00")
    expect(display.get_by_test_id("display-balance")).to_have_text("€39.00")
    shot(display, J, "05-display-paid")
    shot(page, J, "06-paid")
    sale = [e for e in demo.kiosk.journal.entries() if e["op"] == "sale" and e["card_id"] is None][-1]
    assert sale["data"]["face_account"] == FACE_ACCOUNT and sale["data"]["second_factor"] == "phone"
    text = "\n".join(demo.kiosk.printer.layout(demo.kiosk.receipt_for(sale)).text())
    assert "Paid by face" in text and "39.00" in text.split("Balance after")[1].splitlines()[0]
    assert "2 x" in text and "Beer 0.5 l" in text
    page.context.close()
    display.context.close()
