"""The standalone report page: `stallpay collector report NAME --html FILE [--lang]` and the API's `format=html`.

Both print the back office's report view: money in major units with the currency, labelled rows (nested summary
blocks too), the SVG chart with full labels and values, in four languages, no links and nothing fetched.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.face import register_account
from sync.collector.storage import open_store
from sync.format.keys import public_hex
from terminal.cli import main
from terminal.config import load_keys
from tests.sync.journals import EVENT, configured_terminal

STALLPAY = str(Path(sys.executable).with_name("stallpay"))


class _Text(HTMLParser):
    """The words a reader sees (not the stylesheet), and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.urls: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = tag == "style"
        self.urls += [v or "" for k, v in attrs if k in ("href", "src", "action")]

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def handle_data(self, data: str) -> None:
        if not self._style and data.strip():
            self.words.append(re.sub(r"\s+", " ", data.strip()))  # Babel puts no-break spaces in "22,50 €"


def _read(page: str) -> _Text:
    parser = _Text()
    parser.feed(page)
    return parser


def _euro(minor: int) -> str:
    return f"€{minor // 100:,}.{minor % 100:02d}"


@pytest.fixture
def event(tmp_path: Path) -> tuple[str, Path]:
    """A collector database with cash and card top-ups, two sales at the Grill (22.50) and a face account."""
    db = str(tmp_path / "collector.db")
    assert main(["collector", "init", "--db", db, "--event-id", EVENT]) == 0
    cfg, term = configured_terminal(tmp_path, 5)
    term.book("issue", 1, 5000, method="cash")
    term.book("issue", 2, 1000, method="card")
    term.book("sale", 1, 1250, items=[{"name": "Bratwurst", "qty": 1, "unit_price": 1250}])
    term.book("sale", 1, 1000, items=[{"name": "Fries", "qty": 2, "unit_price": 500}])
    usb = tmp_path / "usb"
    assert main(["sync", "--config", str(cfg), "export", "--to", str(usb)]) == 0
    assert main(["collector", "enroll", "--db", db, "--terminal", "5", "--public-key", public_hex(term.key),
                 "--role", "cashier", "--vendor", "Grill"]) == 0
    assert main(["collector", "ingest", "--db", db, "--quiet", str(usb)]) == 0
    store = open_store(db)
    register_account(store, "guest-1")
    store.close()
    return db, cfg.parent / "keys.toml"


def _report(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STALLPAY, "collector", "report", *args, "--db", db, "--quiet"], capture_output=True,
                          text=True, timeout=120)


def _assert_readable(page: str) -> _Text:
    text = _read(page)
    words = " ".join(text.words)
    assert "http" not in page and not [u for u in text.urls if u]  # nothing fetched, no links out
    assert "minor units" not in words
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", words), words  # no raw keys such as accounts_by_status
    return text


def test_cli_summary_page_shows_major_units_and_labels(event: tuple[str, Path], tmp_path: Path) -> None:
    db, _ = event
    done = _report(db, "summary", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["books_balance"] is True and figures["face_accounts"]["accounts_by_status"] == {"active": 1}
    out = tmp_path / "summary.html"
    done = _report(db, "summary", "--html", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    words = " ".join(_assert_readable(page).words)
    for key in ("deposited", "spent", "outstanding"):
        assert _euro(figures[key]) in words, key
    assert "Deposited €60.00" in words and "Spent €22.50" in words and "Outstanding €37.50" in words
    assert "Deposited by method · Cash €50.00" in words and "Deposited by method · Card €10.00" in words
    assert "Face accounts · Accounts by status · Active 1" in words
    assert "Books balance yes" in words
    assert "accounts_by_status" not in page and "<nav" not in page and "login" not in page

    bg = tmp_path / "summary-bg.html"
    assert _report(db, "summary", "--html", str(bg), "--lang", "bg").returncode == 0
    words = " ".join(_assert_readable(bg.read_text(encoding="utf-8")).words)
    assert "Обобщение" in words and "Похарчени 22,50 €" in words
    assert "Лицеви акаунти · Акаунти по статус · Активна 1" in words
    assert "Сметките са равни да" in words


def test_cli_vendor_and_day_charts_carry_full_labels(event: tuple[str, Path], tmp_path: Path) -> None:
    db, _ = event
    for name in ("vendors", "days"):
        out = tmp_path / f"{name}.html"
        done = _report(db, name, "--html", str(out))
        assert done.returncode == 0, done.stderr
        page = out.read_text(encoding="utf-8")
        _assert_readable(page)
        svg = re.search(r"<svg.*?</svg>", page, re.S)
        assert svg, name
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg.group(0))
        assert "€22.50" in labels, labels  # the net, not "22" or 2250
        if name == "vendors":
            assert "Grill" in labels
        else:
            assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", t) for t in labels), labels


def test_cli_refuses_an_unknown_language(event: tuple[str, Path], tmp_path: Path) -> None:
    db, _ = event
    out = tmp_path / "x.html"
    done = _report(db, "summary", "--html", str(out), "--lang", "xx")
    assert done.returncode == 2
    assert "unknown language 'xx'; choose from en, tr, bg, zh_CN" in done.stderr
    assert not out.exists()


def test_api_html_is_the_same_page_in_the_asked_language(event: tuple[str, Path]) -> None:
    db, keys = event
    store = open_store(db)
    set_user(store, "org", "correct horse")
    http = TestClient(create_app(store, load_keys(keys)))
    auth = ("org", "correct horse")
    r = http.get("/api/v1/reports/summary?format=html", auth=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    words = " ".join(_assert_readable(r.text).words)
    assert "Spent €22.50" in words and "Face accounts · Accounts by status · Active 1" in words
    r = http.get("/api/v1/reports/vendors?format=html&lang=bg", auth=auth)
    assert r.status_code == 200
    assert "търговец" in " ".join(_assert_readable(r.text).words).lower()
    assert re.search(r"<svg.*<text[^>]*>22,50\s€</text>.*</svg>", r.text, re.S)
    r = http.get("/api/v1/reports/vendors?format=html&lang=zh_CN", auth=auth)
    assert r.status_code == 200 and "商户" in r.text
    for bad in ("xx", "de", "en'><script>", "e" * 50):
        r = http.get("/api/v1/reports/summary", params={"format": "html", "lang": bad}, auth=auth)
        assert r.status_code == 422, bad
    assert "unknown language 'xx'" in http.get("/api/v1/reports/summary?format=html&lang=xx", auth=auth).text
    assert http.get("/api/v1/reports/summary?format=html").status_code == 401
    assert http.get("/api/v1/reports/summary", auth=auth).json()["spent"] == 2250  # JSON stays minor units


def test_pages_in_chromium_fetch_nothing_and_cut_no_label(event: tuple[str, Path], tmp_path: Path) -> None:
    from tests.sync.backoffice_pages import ARTIFACTS, DESK
    from tests.ui.test_browser import ARGS, CHROMIUM

    playwright_api = pytest.importorskip("playwright.sync_api")
    db, _ = event
    pages = {"summary-en": ("summary", "en"), "vendors-bg": ("vendors", "bg"), "days-zh_CN": ("days", "zh_CN")}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for shot, (name, lang) in pages.items():
                out = tmp_path / f"{shot}.html"
                assert _report(db, name, "--html", str(out), "--lang", lang).returncode == 0
                page = browser.new_context(viewport=DESK).new_page()
                asked: list[str] = []
                page.on("request", lambda req, asked=asked: asked.append(req.url))
                page.goto(out.as_uri())
                assert asked == [out.as_uri()]  # the file itself, nothing else
                page.screenshot(path=str(ARTIFACTS / f"report-standalone-{shot}.png"), full_page=False)
                if name == "summary":
                    assert page.locator("table#report tr").count() > 30
                    continue
                cut: Any = page.evaluate("""() => { const svg = document.querySelector('svg.chart');
                    const box = svg.viewBox.baseVal; const out = [];
                    for (const t of svg.querySelectorAll('text')) { const b = t.getBBox();
                      if (b.x < 0 || b.x + b.width > box.width) out.push(t.textContent); }
                    return out; }""")
                assert cut == []
        finally:
            browser.close()
