"""Journey 3, self-checkout face pay, on real processes: a `stallpay demo` terminal (camera simulated with sample
photos, receipts to a network printer on 127.0.0.1) paired with a real `collector serve`, in Chromium at 800x480.

barcode scan -> the customer display shows the item lines, quantities and total -> the face in a drawn oval
(the item lines stay on the display) -> first payment here bound by the last 4 phone digits -> payment successful
-> receipt "Paid by face" with the balance left. With nobody in front of the camera, face pay gives up and the
cart is still there. The terminal syncs and the collector's books balance."""

from __future__ import annotations

from typing import Any

from terminal.commands.demo import CATALOGUE, FACE_ACCOUNT, FACE_PHONE
from tests.journeys.conftest import Collector, Terminal, books_balance, expect
from tests.journeys.test_resort_face_account import _printed, printer  # noqa: F401  (fixture)
from tests.printer.printer_server import PrinterServer

J = "self-checkout-face"
BEER = next(p for p in CATALOGUE if p["sku"] == "BEER")
WATER = next(p for p in CATALOGUE if p["sku"] == "WATER")


def _show(t: Terminal, photo: str) -> None:
    assert t.http.post("/sim/api/face", json={"photo": photo}).status_code == 200


def test_self_checkout_face_pay(collector: Collector, terminals: Any, screens: Any,
                                printer: PrinterServer) -> None:  # noqa: F811
    # terminal 1 holds the demo's face account and its opening credit: paired as the cashier point that made them
    demo = terminals.start(collector, role="cashier", vendor="Demo Stall", printer_url=printer.url,
                           camera={"bind_on_first_use": True, "no_face_timeout_s": 3.0})
    demo.synced()  # the collector knows the face account's balance (it authorizes online while reachable)
    till, screen = screens(demo, J), screens(demo, J)
    till.login("1", "1111")
    till.goto("/sale")
    page, display = till.page, screen.page
    screen.goto("/display")
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
    screen.shot("display-cart")

    # nobody at the camera: face pay gives up after the set time, and the cart is still there
    _show(demo, "")
    page.get_by_test_id("pay-face").click()
    expect(display.get_by_test_id("display-face-oval")).to_be_visible()
    expect(page.get_by_test_id("reason")).to_contain_text("No face seen", timeout=15_000)
    till.shot("no-face-gave-up")
    assert [e["data"]["code"] for e in demo.entries("decline", "")] == ["no_face"]
    page.locator("#flow .p-declined button").first.click()
    expect(page.get_by_test_id("total")).to_have_text("€11.00")

    # the guest looks at the camera: first payment here, so the phone digits bind the face
    _show(demo, "obama3.jpg")
    page.get_by_test_id("pay-face").click()
    expect(display.get_by_test_id("display-face-oval")).to_be_visible()
    face_lines = display.get_by_test_id("display-face-lines").locator("tr")  # the items stay beside the camera
    expect(face_lines).to_have_count(2)
    expect(face_lines.nth(0)).to_contain_text("Beer 0.5 l")
    expect(display.get_by_test_id("display-face-total")).to_have_text("€11.00")
    screen.shot("display-oval")
    expect(page.get_by_test_id("factor-guidance")).to_contain_text("last 4 digits of your phone")
    till.shot("binding-digits")
    page.get_by_test_id("factor-digits").fill(FACE_PHONE)
    page.get_by_test_id("factor-ok").click()
    expect(page.get_by_test_id("approved")).to_be_visible()
    expect(page.get_by_test_id("balance-left")).to_have_text("€39.00")
    expect(page.get_by_test_id("result-face")).to_contain_text(f"Paid by face · {FACE_ACCOUNT}")
    expect(page.get_by_test_id("result-card")).to_be_hidden()
    expect(display.get_by_test_id("display-balance")).to_have_text("€39.00")
    screen.shot("display-paid")
    till.shot("paid")
    sale = [e for e in demo.entries("sale") if e["card_id"] is None][-1]
    assert sale["data"]["face_account"] == FACE_ACCOUNT and sale["data"]["second_factor"] == "phone"
    text = _printed(printer, "Paid by face", "Beer 0.5 l")
    assert "39.00" in text.split("Balance after")[1].splitlines()[0]
    assert "2 x" in text
    books_balance(collector, demo)
