"""Journey 2, the resort face account, across two terminals and a real `collector serve`: consent -> enrollment
with a live camera view -> cash top-up (receipt) -> face payment at once at the same terminal with the collector
unreachable -> at a second terminal once both synced (online authorization), then offline within the allowance of
its signed snapshot -> checkout at the cashier: refund (receipt) and erasure -> sync -> books balance, erasure
confirmed by both terminals."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sync.collector.enrollment import new_pairing_code
from sync.collector.event import init_event
from sync.collector.face import balances, pending_erasures
from sync.collector.storage import open_store
from terminal.config import load_config, new_keys_text, write_secret_file
from terminal.uplink.client import CollectorClient
from terminal.uplink.terminal_side import open_terminal
from tests.journeys.face_fixtures import face_browser, login, new_page, shot  # noqa: F401  (fixture)
from tests.sync.test_terminal_upload import Collector, await_until
from tests.ui.conftest import DemoServer, demo_template, face_pipeline, serve_demo  # noqa: F401  (fixtures)

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect

J = "resort-face-account"


def _second_terminal(template: Path, folder: Path) -> Path:
    """Terminal 2 of the same event: the event's master key, its own signing key, no journal or gallery yet."""
    shutil.copytree(template, folder, ignore=shutil.ignore_patterns("data", "wristbands"))
    (folder / "data").mkdir()
    for kept in (template / "data").glob("operators.db*"):  # the same staff; its own journal and gallery
        shutil.copy2(kept, folder / "data" / kept.name)
    master = bytes.fromhex(tomllib.loads((template / "keys.toml").read_text())["event"]["master_key"])
    event = load_config(template / "terminal.toml").event.id
    (folder / "keys.toml").unlink()
    write_secret_file(folder / "keys.toml", new_keys_text(event, master))
    config = folder / "terminal.toml"
    data = tomllib.loads(config.read_text())
    data["terminal"].update({"id": 2, "name": "terminal-2", "vendor": "Pool Bar", "mode": "sale"})
    config.write_text(tomli_w.dumps(data))
    return config


def _trust_collector(keys_path: Path, collector_key: str) -> None:
    """What pairing by code installs (as `provisioning/pairing.py` does): the collector's key signs face data."""
    keys = tomllib.loads(keys_path.read_text())
    keys["event"]["collector_key"] = collector_key
    keys_path.write_text(tomli_w.dumps(keys))


def _connect(config: Path, url: str) -> None:
    data = tomllib.loads(config.read_text())
    data["collector"] = {"url": url, "sync_interval_s": 0.3}
    config.write_text(tomli_w.dumps(data))


@pytest.fixture
def venue(demo_template: Path, tmp_path: Path,  # noqa: F811
          face_pipeline: Any) -> Iterator[tuple[DemoServer, DemoServer, Collector]]:  # noqa: F811
    first = tmp_path / "cashier"
    shutil.copytree(demo_template, first)
    configs = [first / "terminal.toml", _second_terminal(demo_template, tmp_path / "poolbar")]
    collector = Collector(tmp_path / "collector.db", load_config(configs[0]).keys_path)
    store = open_store(collector.db)
    init_event(store, load_config(configs[0]).event.id, "EUR")
    collector.start()
    for config in configs:  # default (auto) codes: the cashier point asks for cashier, the pool bar gets sale
        client = CollectorClient(collector.url, open_terminal(config), attempts=2, backoff_s=0.1)
        payload = client.pair_keys(new_pairing_code(store))
        _trust_collector(load_config(config).keys_path, payload["collector_key"])
        _connect(config, collector.url)
    assert [t["role"] for t in store.query("SELECT role FROM terminals ORDER BY terminal_id")] == ["cashier", "sale"]
    collector.stop()  # the venue's network is down when the guest arrives
    try:
        with serve_demo(configs[0], face_pipeline) as cashier, serve_demo(configs[1], face_pipeline) as bar:
            yield cashier, bar, collector
    finally:
        collector.stop()


def _show(demo: DemoServer, photo: str) -> None:
    with demo.client() as c:
        assert c.post("/sim/api/face", json={"photo": photo}).status_code == 200


def _pay_beer(page: Any, demo: DemoServer, left: str, step: str) -> dict[str, Any]:
    page.goto(demo.url + "/sale")
    page.get_by_test_id("product-BEER").click()
    page.get_by_test_id("pay-face").click()
    expect(page.get_by_test_id("approved")).to_be_visible()
    expect(page.get_by_test_id("balance-left")).to_have_text(left)
    shot(page, J, step)
    page.locator("#flow .p-approved button").first.click()
    return [e for e in demo.commits("sale") if e["card_id"] is None][-1]


def test_resort_face_account(venue: tuple[DemoServer, DemoServer, Collector], face_browser: Any) -> None:  # noqa: F811
    cashier, bar, collector = venue
    page = new_page(face_browser)
    login(page, cashier.url, "2", "2222")
    page.goto(cashier.url + "/cashier")
    page.get_by_test_id("tab-face").click()
    expect(page.get_by_test_id("consent-text")).to_contain_text("template of my face")
    shot(page, J, "01-consent")
    _show(cashier, "biden.jpg")
    page.get_by_test_id("consent-agree").click()
    display = new_page(face_browser)  # the guest confirms on the customer display
    display.goto(cashier.url + "/display")
    expect(display.get_by_test_id("display-consent-text")).to_contain_text("template of my face")
    shot(display, J, "01b-display-consent")
    display.get_by_test_id("display-consent-agree").click()
    display.context.close()
    expect(page.locator("#enroll-preview")).to_have_attribute("src", re.compile("/api/face/preview"))
    page.get_by_test_id("enroll-camera").scroll_into_view_if_needed()
    shot(page, J, "02-live-camera")
    page.get_by_test_id("enroll-phone").fill("4321")
    page.get_by_test_id("enroll-capture").click()
    expect(page.get_by_test_id("enroll-result")).to_have_text("Face enrolled")
    account = page.get_by_test_id("face-account-id").input_value()
    page.get_by_test_id("face-topup-amount").fill("40.00")
    page.get_by_test_id("face-topup-cash").click()
    expect(page.get_by_test_id("face-balance")).to_have_text("€40.00")
    shot(page, J, "03-topped-up")
    topup = [e for e in cashier.commits("topup") if e["card_id"] is None][-1]
    assert cashier.kiosk.receipt_for(topup).balance_now == 4000

    # the same terminal, collector unreachable: money credited here pays at once
    assert cashier.kiosk.sync_panel.reachable is not True
    sale = _pay_beer(page, cashier, "€35.50", "04-paid-by-face-offline")
    lines = "\n".join(cashier.kiosk.printer.layout(cashier.kiosk.receipt_for(sale)).text())
    assert "Paid by face" in lines and "35.50" in lines

    # the network is back: both terminals sync; the pool bar authorizes online
    collector.start()
    await_until(cashier, lambda: cashier.kiosk.sync.overview()["unsynced_entries"] == 0, "cashier synced")
    await_until(bar, lambda: account in bar.kiosk.face.gallery
                and bar.kiosk.face_accounts.balance(account) == 3550, "pool bar has the face and its balance")
    bar_page = new_page(face_browser)
    login(bar_page, bar.url, "1", "1111")
    _show(bar, "biden.jpg")
    online = _pay_beer(bar_page, bar, "€31.00", "05-second-terminal-online")
    assert online["data"].get("authorization")
    # the network goes down again: the pool bar spends within its snapshot's allowance
    collector.stop()
    offline = _pay_beer(bar_page, bar, "€26.50", "06-second-terminal-offline")
    assert offline["data"].get("offline") is True
    collector.start()
    await_until(bar, lambda: bar.kiosk.sync.overview()["unsynced_entries"] == 0, "pool bar synced")

    # checkout at the cashier: the collector's balance is paid out, the face erased everywhere
    await_until(cashier, lambda: cashier.kiosk.sync_panel.reachable is True, "cashier reachable")
    page.goto(cashier.url + "/cashier")
    page.get_by_test_id("tab-face").click()
    page.get_by_test_id("face-account-id").fill(account)
    page.get_by_test_id("face-checkout").click()
    expect(page.get_by_test_id("face-account-result")).to_contain_text("€26.50")
    shot(page, J, "07-checkout-refund")
    close = [e for e in cashier.commits("close") if e["card_id"] is None][-1]
    assert "face template erased" in "\n".join(cashier.kiosk.printer.layout(cashier.kiosk.receipt_for(close)).text())
    for terminal in (cashier, bar):
        await_until(terminal, lambda t=terminal: account not in t.kiosk.face.gallery
                    and t.kiosk.sync.overview()["unsynced_entries"] == 0, "erased and synced")
    store = open_store(collector.db)
    await_until(bar, lambda: all(account not in r["accounts"] for r in pending_erasures(store)), "erasure confirmed")
    s = collector.summary()
    assert s["books_balance"] is True and s["anomalies"] == {}
    assert s["face_accounts"]["refused_credits"] == 0
    assert balances(store, [account]) == {account: 0}  # (the demo's own face account keeps its 50.00)
    page.context.close()
    bar_page.context.close()
