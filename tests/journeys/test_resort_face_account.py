"""Journey 2, the resort face account, on real processes: two `stallpay demo` terminals (the cashier point and the
pool bar, the camera simulated with sample photos) and a real `collector serve`, driven in Chromium at 800x480.

consent (the guest confirms on the customer display) -> enrollment with a live camera view -> cash top-up
(receipt) -> face payment at once at the same terminal with the collector unreachable -> at the pool bar once
both synced (online authorization), then offline within the allowance of its signed snapshot -> checkout at the
cashier: refund (receipt) and erasure -> sync -> books balance, erasure confirmed by both terminals."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from sync.collector.face import balances, pending_erasures
from sync.collector.storage import open_store
from tests.journeys.conftest import Collector, Screen, Terminal, books_balance, expect, wait_for
from tests.printer.escpos_reader import decode
from tests.printer.printer_server import PrinterServer

J = "resort-face-account"


@pytest.fixture
def printer() -> Iterator[PrinterServer]:
    server = PrinterServer()
    try:
        yield server
    finally:
        server.close()


def _show(t: Terminal, photo: str) -> None:
    assert t.http.post("/sim/api/face", json={"photo": photo}).status_code == 200


def _printed(printer: PrinterServer, *words: str) -> str:
    """The receipt (decoded ESC/POS) that holds all `words`, once the print queue sent it."""
    def found() -> str:
        for job in printer.jobs:
            text = "\n".join(decode(job).text)
            if all(w in text for w in words):
                return text
        return ""
    return str(wait_for(found, f"a receipt with {words}"))


def _has_template(t: Terminal, account: str) -> bool:
    with sqlite3.connect(f"file:{t.dir / 'data' / 'face.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT 1 FROM face_templates WHERE account_id = ?", [account]).fetchone() is not None


def _face_sales(t: Terminal) -> list[dict[str, Any]]:
    return [e for e in t.entries("sale") if e["card_id"] is None and e["operator"] != "setup"]


def _pay_beer(screen: Screen, left: str, step: str) -> None:
    screen.goto("/sale")
    screen.click("product-BEER")
    screen.click("pay-face")
    expect(screen.by("approved")).to_be_visible()
    expect(screen.by("balance-left")).to_have_text(left)
    expect(screen.by("result-face")).to_be_visible()  # "Paid by face · account", not a wristband line
    expect(screen.by("result-card")).to_be_hidden()
    screen.shot(step)
    screen.page.locator("#flow .p-approved button").first.click()


def test_resort_face_account(collector: Collector, terminals: Any, screens: Any, printer: PrinterServer) -> None:
    cashier_point = terminals.start(collector, role="cashier", vendor="Cashier", printer_url=printer.url)
    pool_bar = terminals.start(collector, vendor="Pool Bar")
    collector.proc.terminate()  # the venue's network is down when the guest arrives
    collector.proc.wait(timeout=20)

    cashier = screens(cashier_point, J)
    cashier.login("2", "2222")
    cashier.goto("/cashier")
    cashier.click("tab-face")
    expect(cashier.by("consent-text")).to_contain_text("template of my face")
    cashier.shot("consent")
    _show(cashier_point, "biden.jpg")
    cashier.click("consent-agree")
    display = screens(cashier_point, J)  # the guest confirms on the customer display
    display.goto("/display")
    expect(display.by("display-consent-text")).to_contain_text("template of my face")
    display.shot("display-consent")
    display.click("display-consent-agree")
    expect(cashier.page.locator("#enroll-preview")).to_have_attribute("src", re.compile("/api/face/preview"))
    cashier.by("enroll-camera").scroll_into_view_if_needed()
    cashier.shot("live-camera")
    cashier.by("enroll-phone").fill("4321")
    cashier.click("enroll-capture")
    expect(cashier.by("enroll-result")).to_have_text("Face enrolled")
    account = cashier.by("face-account-id").input_value()
    cashier.by("face-topup-amount").fill("40.00")
    cashier.click("face-topup-cash")
    expect(cashier.by("face-balance")).to_have_text("€40.00")
    cashier.shot("topped-up")
    assert "40.00" in _printed(printer, "Loaded", "Balance now").split("Balance now")[1].splitlines()[0]

    # the same terminal, collector unreachable: money credited here pays at once
    assert cashier_point.state()["sync"]["reachable"] is not True
    _pay_beer(cashier, "€35.50", "paid-by-face-offline")
    receipt = _printed(printer, "Paid by face", "35.50")
    assert "Face account" in receipt and "Paid from card" not in receipt

    # the network is back: both terminals sync; the pool bar authorizes online
    collector.start()
    cashier_point.synced()
    store = open_store(collector.db)
    wait_for(lambda: balances(store, [account]) == {account: 3550}, "the collector holds the face balance")
    wait_for(lambda: _has_template(pool_bar, account), "the pool bar holds the face (sealed for it)")
    pool_bar.synced()
    bar = screens(pool_bar, J)
    bar.login("1", "1111")
    _show(pool_bar, "biden.jpg")
    _pay_beer(bar, "€31.00", "second-terminal-online")
    assert _face_sales(pool_bar)[-1]["data"].get("authorization")
    # the network goes down again: the pool bar spends within its snapshot's allowance
    collector.proc.terminate()
    collector.proc.wait(timeout=20)
    _pay_beer(bar, "€26.50", "second-terminal-offline")
    assert _face_sales(pool_bar)[-1]["data"].get("offline") is True
    collector.start()
    pool_bar.synced()

    # checkout at the cashier: the collector's balance is paid out, the face erased everywhere
    wait_for(lambda: cashier_point.state()["sync"]["reachable"] is True, "cashier reachable")
    cashier.goto("/cashier")
    cashier.click("tab-face")
    cashier.by("face-account-id").fill(account)
    cashier.click("face-checkout")
    expect(cashier.by("face-account-result")).to_contain_text("€26.50")
    cashier.shot("checkout-refund")
    assert "26.50" in _printed(printer, "face template erased")
    for terminal in (cashier_point, pool_bar):
        wait_for(lambda t=terminal: not _has_template(t, account), f"terminal {terminal.id} erased the face")
    wait_for(lambda: all(account not in r["accounts"] for r in pending_erasures(store)), "erasure confirmed")
    summary = books_balance(collector, cashier_point, pool_bar)
    assert summary["face_accounts"]["refused_credits"] == 0
    assert balances(store, [account]) == {account: 0}  # (the demo's own face account keeps its 50.00)
    store.close()


