"""Fixtures for the face journeys: the demo terminal in Chromium at 800x480, a real `collector serve` subprocess,
screenshots under artifacts/journeys/. Kept apart from conftest.py (the card journeys' fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "journeys"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
SMALL = {"width": 800, "height": 480}


@pytest.fixture(scope="module")
def face_browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/setup.sh (Debian package 'chromium')")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def new_page(browser: Any) -> Any:
    page = browser.new_context(viewport=SMALL).new_page()
    page.set_default_timeout(15_000)
    return page


def shot(page: Any, journey: str, step: str) -> None:
    folder = ARTIFACTS / journey
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{step}.png"))


def login(page: Any, url: str, operator: str, pin: str) -> None:
    page.goto(url + "/login")
    page.get_by_test_id("login-operator").fill(operator)
    page.get_by_test_id("login-pin").fill(pin)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda u: "/login" not in u)
