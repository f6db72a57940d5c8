"""What the back-office browser tests share: the real collector on a PostgreSQL schema of its own (module
fixture `collector`), Debian's Chromium (module fixture `browser`), a signed-in office page at desk size, a
guest's phone, screenshots under artifacts/back-office/, a cashier terminal of the sim event (`Till`), and the
finance steps every refund journey ends with (the SEPA debtor, the pain.001 file checked against the XSD).

Test modules import the fixtures by name (`from tests.sync.backoffice_pages import browser, collector`)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from terminal.config import new_keys_text, write_config, write_secret_file
from terminal.uplink.client import CollectorClient
from terminal.uplink.terminal_side import TerminalSync, open_terminal
from tests.sync.backoffice_server import PASSWORD, SIM_EVENT, Collector, start_collector
from tests.sync.conftest import _free_port
from tests.ui.test_browser import ARGS, CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "back-office"
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VALID_IBAN = "DE89370400440532013000"
PAIN_001 = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
_schemas = itertools.count(1)


@pytest.fixture(scope="module")
def collector(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    import psycopg

    schema = f"office{os.getpid()}_{next(_schemas)}"  # one per test module: each runs its own collector
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    c = start_collector(f"{pg_server}?options=-csearch_path%3D{schema}", tmp_path_factory.mktemp("office"),
                        _free_port())
    yield c
    c.proc.terminate()
    c.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/setup.sh (Debian package 'chromium')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def desk(browser: Any, collector: Collector, username: str) -> Any:
    """A logged-in back-office page at 1280x800."""
    page = browser.new_context(viewport=DESK, accept_downloads=True).new_page()
    page.goto(f"{collector.url}/")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{collector.url}/")
    return page


def phone(browser: Any) -> Any:
    """A guest's phone: 390x844, touch, its own cookies."""
    return browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def set_debtor(finance: Any) -> None:
    """Finance names the organizer's account the SEPA file pays from (a page of /payouts)."""
    finance.fill("form[action='/payouts/debtor'] input[name=name]", "Festival GmbH")
    finance.fill("form[action='/payouts/debtor'] input[name=iban]", "DE02120300000000202051")
    finance.fill("form[action='/payouts/debtor'] input[name=bic]", "BYLADEM1001")
    finance.click("form[action='/payouts/debtor'] button")


def valid_pain_001(xml: bytes) -> Any:
    """The parsed SEPA credit transfer file, after checking it against the pain.001.001.03 XSD (sepaxml's copy)."""
    import sepaxml

    schema = etree.XMLSchema(etree.parse(str(Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd")))
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    return doc


class Till:
    """A cashier terminal of the sim event with a real wallet and an emulated wristband reader."""

    def __init__(self, tmp: Path, collector: Collector, terminal_id: int, vendor: str = "Desk") -> None:
        from terminal.nfc.emulated import EmulatedReader
        from terminal.wallet.operations import Wallet
        from terminal.wallet.rules import Limits

        d = tmp / f"till{terminal_id}"
        write_secret_file(d / "keys.toml", new_keys_text(SIM_EVENT, collector.master_key))
        write_config(d / "terminal.toml", {"event": {"id": SIM_EVENT, "currency": "EUR"},
                                           "terminal": {"id": terminal_id, "vendor": vendor},
                                           "paths": {"data": "data", "keys": "keys.toml"}})
        self.ts: TerminalSync = open_terminal(d / "terminal.toml")
        self.wallet = Wallet(journal=self.ts.journal, master_key=collector.master_key, event_id=SIM_EVENT,
                             terminal_id=terminal_id, limits=Limits(max_balance=100_000, max_sale=20_000))
        self.reader = EmulatedReader("office test reader")
        self.client = CollectorClient(collector.url, self.ts, attempts=3, backoff_s=0.1)

    def tap(self, band: Any, action: str, *args: Any, **kwargs: Any) -> Any:
        from terminal.nfc.ntag import identify

        self.reader.place(band)
        try:
            return getattr(self.wallet, action)(identify(self.reader.wait_for_card(1)), *args, **kwargs)
        finally:
            self.reader.remove()
