"""The harness for the users' journeys: real processes, a real browser, the collector's books at the end.

- `collector` / `pg_collector`: `stallpay collector init` + `serve` as subprocesses (SQLite, or a schema of the
  session's real PostgreSQL from tests/sync/conftest.py); `pair(role)` makes a pairing code with the CLI,
  `summary()` reads the books with `stallpay collector report summary --json`.
- `terminals`: a factory of `stallpay demo` processes (terminal 1, 2, ...) of one event, all paired with the
  collector (background sync every 0.3 s) and sharing one table of wristbands, so a band tapped at one terminal
  is the same band at the next.
- `browser` + `Screen`: Chromium (Debian's, through Playwright) at 800x480; `screen.shot(step)` writes
  artifacts/journeys/<journey>/<nn>-<step>.png.

Taps go through the demo's simulator (`/sim/api/tap`): the emulated NFC reader is the physical edge.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import tomli_w

from tests.sync.conftest import pg_server  # noqa: F401  (fixture: a private PostgreSQL for the session)
from tests.ui.test_browser import browser  # noqa: F401  (fixture: Debian's Chromium through Playwright)

playwright_api = pytest.importorskip("playwright.sync_api")
# a screen follows the terminal's state pushed over server-sent events; on a loaded CI box (2 cores shared by many
# processes) that push can lag several seconds behind the tap, so assertions wait up to 15 s (not Playwright's 5 s)
playwright_api.expect.set_options(timeout=15_000)

STALLPAY = str(Path(sys.executable).with_name("stallpay"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "journeys"
SMALL = {"width": 800, "height": 480}
DEADLINE_S = 30.0


def run_cli(*args: str, stdin: str | None = None, check: bool = True,
            board: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`stallpay ARGS` as a subprocess (what an operator types); `board`: the device secret's environment."""
    done = subprocess.run([STALLPAY, *args], capture_output=True, text=True, input=stdin, timeout=120,
                          env={**os.environ, **(board or {})})
    if check:
        assert done.returncode == 0, f"stallpay {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done


def wait_for(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    """Poll `condition` until it returns something truthy (never a fixed sleep for something awaitable)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """`stallpay collector serve` on a free port, over a database made with `stallpay collector init`."""

    def __init__(self, db: str, keys: Path, event_id: str) -> None:
        self.db, self.keys = db, keys
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        run_cli("collector", "init", "--db", db, "--event-id", event_id, "--name", "Journey event")
        # its log goes to a file: an unread pipe fills up and stops a long-running server that logs
        self.log = keys.parent / f"collector-{self.port}.log"
        self.start()

    def start(self) -> None:
        """Serve (again, on the same port: the venue's network is back)."""
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([STALLPAY, "collector", "serve", "--db", self.db, "--keys", str(self.keys),
                                          "--host", "127.0.0.1", "--port", str(self.port)],
                                         stdout=subprocess.DEVNULL, stderr=log, text=True)
        wait_for(self._up, "collector serve answers")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"collector serve exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/api/v1/time", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli("collector", args[0], "--db", self.db, *args[1:], check=check)

    def pair(self, role: str, vendor: str) -> str:
        out = self.cli("pair", "--role", role, "--vendor", vendor).stdout
        found = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", out)
        assert found, f"no pairing code in {out!r}"
        return found.group(0)

    def report(self, name: str, *extra: str) -> Any:
        out = self.cli("report", name, "--json", *extra)
        try:
            return json.loads(out.stdout)
        except ValueError:
            raise AssertionError(f"report {name} is not JSON: {out.stdout[:300]!r} {out.stderr[-300:]!r}") from None

    def summary(self) -> dict[str, Any]:
        return dict(self.report("summary"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


class Terminal:
    """One `stallpay demo` process (its own data, the event's keys, the shared wristbands)."""

    def __init__(self, folder: Path, terminal_id: int) -> None:
        self.dir = folder
        self.id = terminal_id
        self.config = folder / "terminal.toml"
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.http = httpx.Client(timeout=20)

    def start(self, board: dict[str, str] | None = None) -> None:
        """`board`: environment naming the device secret of the board this terminal runs on."""
        self.board = board if board is not None else getattr(self, "board", None)
        self.http.close()
        self.http = httpx.Client(timeout=20)  # a fresh client: a stopped terminal can be started again
        self.log = self.dir / f"terminal-{self.id}.log"  # a file: an unread pipe would stall the server
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([STALLPAY, "demo", "--dir", str(self.dir), "--port", "0", "--no-browser"],
                                         stdout=subprocess.PIPE, stderr=log, text=True,
                                         env={**os.environ, **(self.board or {})})
        found: list[str] = []

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                m = re.search(r"open (http://\S+?)/?\s", line)
                if m and not found:
                    found.append(m.group(1))

        threading.Thread(target=read, daemon=True).start()
        self.url = wait_for(lambda: found[0] if found else (self.proc.poll() is not None and "exited"),
                            f"terminal {self.id} prints its URL")
        assert self.url != "exited", f"stallpay demo (terminal {self.id}) exited {self.proc.returncode}"
        self.http.base_url = self.url

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.http.close()

    def tap(self, band: str, tear: int | None = None) -> None:
        """Hold `band` to this terminal's reader until the terminal has handled it (`tear`: pull it away early)."""
        answer = self.http.post("/sim/api/tap", json={"card": band, "tear": tear})
        assert answer.status_code == 200 and answer.json()["handled"], answer.text

    def new_band(self, label: str) -> str:
        return str(self.http.post("/sim/api/new", json={"label": label}).json()["name"])

    def state(self) -> dict[str, Any]:
        return dict(self.http.get("/api/state").json())

    def synced(self) -> None:
        """Wait until the background sync has delivered every journal entry and heard back from the collector."""
        wait_for(lambda: (s := self.state()["sync"]) and s["unsynced"] == 0 and s["reachable"],
                 f"terminal {self.id} synced")

    def entries(self, op: str, phase: str = "commit") -> list[dict[str, Any]]:
        """Journal entries of `op` in `phase` ("" = any), read from the running terminal's database (read-only)."""
        import sqlite3

        uri = f"file:{self.dir / 'data' / 'journal.db'}?mode=ro"
        with sqlite3.connect(uri, uri=True) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM journal WHERE op = ? AND (phase = ? OR ? = '') ORDER BY seq",
                              [op, phase, phase]).fetchall()
        return [{**dict(r), "data": json.loads(r["data"] or "{}")} for r in rows]

    def journal(self) -> list[dict[str, Any]]:
        from terminal.config import load_config
        from terminal.wallet.journal import open_journal

        config = load_config(self.config)
        journal = open_journal(config.journal_path, terminal_id=config.terminal.id, event_id=config.event.id,
                               currency=config.event.currency)
        try:
            return [dict(e) for e in journal.entries()]
        finally:
            journal.db.close()


@pytest.fixture(scope="session")
def demo_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`stallpay demo --setup-only` once: configuration, event keys, operators, catalogue, wristbands."""
    folder = tmp_path_factory.mktemp("journey-template") / "demo"
    run_cli("demo", "--dir", str(folder), "--setup-only")
    return folder


def _terminal_dir(template: Path, folder: Path, terminal_id: int, table: Path, collector: Collector | None,
                  role: str, vendor: str, ui: dict[str, Any], printer_url: str,
                  board: dict[str, str] | None = None, camera: dict[str, Any] | None = None) -> Path:
    # on a board with its own device secret the demo's gallery (keyed without it) does not open: start without it
    shutil.copytree(template, folder, ignore=shutil.ignore_patterns("wristbands", *(("face.db*",) if board else ())))
    (folder / "wristbands").symlink_to(table)
    data = tomllib.loads((folder / "terminal.toml").read_text())
    data["terminal"].update(id=terminal_id, name=f"terminal-{terminal_id}", vendor=vendor,
                            mode="cashier" if role == "cashier" else "sale")
    data["ui"] = {**data.get("ui", {}), "result_s": 3.0, **ui}
    if camera:
        data["camera"] = {**data.get("camera", {}), **camera}
    if printer_url:
        data["printer"] = {"url": printer_url}
    if terminal_id != 1:  # terminal 1's journal (the demo's opening balances) stays terminal 1's
        for leftover in (folder / "data").glob("journal.db*"):
            leftover.unlink()
    (folder / "terminal.toml").write_text(tomli_w.dumps(data))
    if collector is not None:
        code = collector.pair(role, vendor)
        run_cli("sync", "pair", "--config", str(folder / "terminal.toml"), "--code", code, "--url", collector.url,
                board=board)
        data["collector"] = {"url": collector.url, "sync_interval_s": 0.3}
        (folder / "terminal.toml").write_text(tomli_w.dumps(data))
    return folder


class Terminals:
    """Starts the terminals of one journey; all stop when the test ends."""

    def __init__(self, template: Path, root: Path) -> None:
        self.template, self.root = template, root
        self.table = root / "wristbands"
        shutil.copytree(template / "wristbands", self.table)
        self.started: list[Terminal] = []
        self.ids = itertools.count(1)

    def start(self, collector: Collector | None, *, role: str = "sale", vendor: str = "Demo Stall",
              printer_url: str = "", board: dict[str, str] | None = None, camera: dict[str, Any] | None = None,
              **ui: Any) -> Terminal:
        """Terminal 1 holds the demo's opening balances: pair it as the cashier point that made them. `board`: the
        environment naming its device secret (a board of its own: its gallery key needs that secret)."""
        terminal_id = next(self.ids)
        folder = _terminal_dir(self.template, self.root / f"t{terminal_id}", terminal_id, self.table, collector,
                               role, vendor, ui, printer_url, board, camera)
        terminal = Terminal(folder, terminal_id)
        self.started.append(terminal)
        terminal.start(board)
        return terminal

    def stop(self) -> None:
        for terminal in self.started:
            terminal.stop()


@pytest.fixture
def terminals(demo_setup: Path, tmp_path: Path) -> Iterator[Terminals]:
    made = Terminals(demo_setup, tmp_path)
    try:
        yield made
    finally:
        made.stop()


def _event_id(template: Path) -> str:
    return str(tomllib.loads((template / "terminal.toml").read_text())["event"]["id"])


@pytest.fixture
def collector(demo_setup: Path, tmp_path: Path) -> Iterator[Collector]:
    """A collector on SQLite."""
    made = Collector(str(tmp_path / "books.db"), demo_setup / "keys.toml", _event_id(demo_setup))
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
def pg_collector(demo_setup: Path, pg_server: str) -> Iterator[Collector]:  # noqa: F811
    """A collector on the session's PostgreSQL, in a schema of its own."""
    import psycopg

    schema = f"journey_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    made = Collector(f"{pg_server}?options=-csearch_path%3D{schema}", demo_setup / "keys.toml",
                     _event_id(demo_setup))
    try:
        yield made
    finally:
        made.stop()


class Screen:
    """One terminal's screen in its own browser context at 800x480; numbered screenshots per journey."""

    counters: ClassVar[dict[str, itertools.count[int]]] = {}

    def __init__(self, chromium: Any, terminal: Terminal, journey: str) -> None:
        self.terminal = terminal
        self.journey = journey
        self.context = chromium.new_context(viewport=SMALL)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.counters.setdefault(journey, itertools.count(1))

    def goto(self, path: str) -> None:
        self.page.goto(self.terminal.url + path)

    def login(self, operator: str, pin: str) -> None:
        self.goto("/login")
        self.page.get_by_test_id("login-operator").fill(operator)
        self.page.get_by_test_id("login-pin").fill(pin)
        self.page.get_by_test_id("login-submit").click()
        self.page.wait_for_url(lambda url: "/login" not in url)

    def logout(self) -> None:
        self.page.locator("[data-action=logout]").click()
        expect(self.page).to_have_url(re.compile("/login"))
        expect(self.by("login-submit")).to_be_visible()

    def by(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def click(self, test_id: str) -> None:
        """Press as the operator does, then wait until the terminal has the press (the kiosk says data-busy="no"):
        a band tapped or a page reloaded while the request is still in the browser would race it."""
        self.by(test_id).click()
        expect(self.page.locator("body")).to_have_attribute("data-busy", "no")

    def shot(self, step: str) -> Path:
        folder = ARTIFACTS / self.journey
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{next(self.counters[self.journey]):02d}-{step}.png"
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.context.close()


def expect(locator: Any) -> Any:
    return playwright_api.expect(locator)


@pytest.fixture
def screens(browser: Any) -> Iterator[Callable[[Terminal, str], Screen]]:  # noqa: F811  (the fixture)
    opened: list[Screen] = []

    def open_screen(terminal: Terminal, journey: str) -> Screen:
        screen = Screen(browser, terminal, journey)
        opened.append(screen)
        return screen

    yield open_screen
    for screen in opened:
        screen.close()


def books_balance(collector: Collector, *terminals: Terminal, expected_anomalies: set[str] = frozenset()) -> dict:  # type: ignore[assignment]
    """Every terminal synced, then the collector's summary: the books balance and no anomaly beyond `expected`."""
    for terminal in terminals:
        terminal.synced()
    summary = collector.summary()
    assert summary["books_balance"] is True, json.dumps(summary, indent=1)
    unexplained = {k: v for k, v in (summary.get("anomalies") or {}).items() if v and k not in expected_anomalies}
    assert not unexplained, json.dumps(summary, indent=1)
    return summary
