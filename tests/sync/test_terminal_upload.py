"""The running terminal uploads to a real `stallpay collector serve` in the background, exactly once, and keeps
selling while the collector is away; `stallpay sync upload/status` take the URL from `[collector] url`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from sync.collector.enrollment import new_pairing_code
from sync.collector.event import init_event
from sync.collector.storage import open_store
from sync.collector.summary import summary
from terminal.cli import main as cli
from terminal.config import ConfigError, load_config
from terminal.uplink.client import CollectorClient, SyncFailed
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import EVENT, configured_terminal
from tests.sync.test_serve import _free_port, _wait_ready
from tests.ui.conftest import DemoServer, demo_template, face_pipeline, serve_demo  # noqa: F401  (fixtures)

DEADLINE_S = 30.0


class Collector:
    """`stallpay collector serve` on 127.0.0.1 as a subprocess that the test stops and starts again."""

    def __init__(self, db: Path, keys: Path) -> None:
        self.db, self.keys = db, keys
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        stallpay = Path(sys.executable).with_name("stallpay")
        self.proc = subprocess.Popen([str(stallpay), "collector", "serve", "--db", str(self.db), "--keys",
                                      str(self.keys), "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait_ready(self.url, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def summary(self) -> dict[str, Any]:
        return summary(open_store(self.db))


def set_collector(config: Path, **section: Any) -> None:
    data = tomllib.loads(config.read_text())
    data["collector"] = section
    config.write_text(tomli_w.dumps(data))


def await_until(demo: DemoServer, condition: Callable[[], bool], what: str) -> None:
    """Wait round by round of the background loop (never a fixed sleep) until `condition` holds."""
    panel = demo.kiosk.sync_panel
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        left = deadline - time.monotonic()
        assert left > 0, f"not within {DEADLINE_S} s: {what}"
        panel.wait_rounds(panel.rounds + 1, left)


def sell(demo: DemoServer, c: httpx.Client, request_id: str) -> None:
    assert c.post("/api/cart/add", json={"sku": "BEER"}).status_code == 200
    assert c.post("/api/charge", json={"request_id": request_id}).json() == {"started": True}
    demo.tap("alice")
    assert c.get("/api/state").json()["flow"]["phase"] == "approved"


@pytest.fixture
def online(demo_template: Path, tmp_path: Path, face_pipeline: Any) -> Iterator[tuple[DemoServer, Collector]]:  # noqa: F811
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    config = folder / "terminal.toml"
    keys = load_config(config).keys_path
    collector = Collector(tmp_path / "collector.db", keys)
    init_event(open_store(collector.db), load_config(config).event.id, "EUR")
    code = new_pairing_code(open_store(collector.db), role="admin", vendor="Demo Stall")  # it issues too
    collector.start()
    CollectorClient(collector.url, open_terminal(config), attempts=2, backoff_s=0.1).pair(code)
    set_collector(config, url=collector.url, sync_interval_s=0.2)
    try:
        with serve_demo(config, face_pipeline) as server:
            yield server, collector
    finally:
        collector.stop()


def test_serve_uploads_in_the_background_exactly_once_across_an_outage(online: tuple[DemoServer, Collector]) -> None:
    demo, collector = online
    kiosk = demo.kiosk
    assert kiosk.sync_panel.running and kiosk.collector is kiosk.sync_panel.client
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c, "s1")
        await_until(demo, lambda: kiosk.sync.overview()["unsynced_entries"] == 0, "first sale uploaded")
        assert collector.summary()["spent"] == 450
        view = c.get("/api/state").json()["sync"]
        assert view["collector_text"] == "reachable" and view["clock_text"] == "clock ✓"  # same host: same clock

        collector.stop()
        sell(demo, c, "s2")
        sell(demo, c, "s3")  # the terminal keeps selling with the collector away
        await_until(demo, lambda: kiosk.sync_panel.reachable is False, "the loop noticed the outage")
        view = c.get("/api/state").json()["sync"]
        assert view["unsynced"] > 0 and view["collector_text"].startswith("not reachable")
        assert not view["sales_blocked"]

        collector.start()
        await_until(demo, lambda: kiosk.sync.overview()["unsynced_entries"] == 0, "backlog uploaded after restart")
    head = kiosk.journal.head()[0]
    s = collector.summary()
    assert s["spent"] == 3 * 450
    assert s["entries"] == head  # every journal entry stored once: none lost, none twice
    sales = demo.commits("sale")
    assert len(sales) == 3 and sales[-1]["clock_synced"]  # entries after a sync say the clock agreed


def test_shutdown_stops_the_loop(online: tuple[DemoServer, Collector]) -> None:
    demo, _ = online
    panel = demo.kiosk.sync_panel
    assert panel.wait_rounds(1, DEADLINE_S)
    demo.terminal.card_loop.stop()
    panel.stop()
    assert not panel.running and panel.stop_event.is_set()


# --- the CLI takes the URL from the configuration --------------------------------------------------------------


def test_sync_upload_and_status_use_the_configured_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, term = configured_terminal(tmp_path, 9)
    term.book("issue", 1, 4000, method="cash")
    term.book("sale", 1, 1500)
    collector = Collector(tmp_path / "collector.db", cfg.parent / "keys.toml")
    store = open_store(collector.db)
    init_event(store, EVENT, "EUR")
    code = new_pairing_code(store, vendor="Grill")
    collector.start()
    try:
        CollectorClient(collector.url, open_terminal(cfg), attempts=2, backoff_s=0.1).pair(code)
        assert cli(["sync", "--config", str(cfg), "upload"]) == 1
        assert "no collector URL" in capsys.readouterr().err
        data = tomllib.loads(cfg.read_text())
        data["collector"] = {"url": collector.url + "/"}
        cfg.write_text(tomli_w.dumps(data))
        assert cli(["sync", "--config", str(cfg), "upload"]) == 0
        assert json.loads(capsys.readouterr().out)["acked_seq"] == 4
        assert cli(["sync", "--config", str(cfg), "status"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["unsynced_entries"] == 0 and status["collector_reachable"] is True
        assert status["collector"] == collector.url and status["last_sync"] is not None
    finally:
        collector.stop()
    assert collector.summary()["spent"] == 1500
    assert cli(["sync", "--config", str(cfg), "status"]) == 0
    assert json.loads(capsys.readouterr().out)["collector_reachable"] is False


def test_collector_section_is_optional_and_checked(tmp_path: Path) -> None:
    cfg, _ = configured_terminal(tmp_path, 3)
    config = load_config(cfg)
    assert (config.collector.url, config.collector.sync_interval_s, config.collector.max_days_unsynced) == ("", 30, 0)
    data = tomllib.loads(cfg.read_text())
    data["collector"] = {"url": "collector.local:8000"}
    cfg.write_text(tomli_w.dumps(data))
    with pytest.raises(ConfigError, match=r"collector\.url: .*http:// or https://"):
        load_config(cfg)
    data["collector"] = {"url": "http://x", "sync_interval_s": 0}
    cfg.write_text(tomli_w.dumps(data))
    with pytest.raises(ConfigError, match=r"collector\.sync_interval_s"):
        load_config(cfg)


# --- the loop and the shared connection ------------------------------------------------------------------------


def test_run_reports_every_round_and_survives_a_bug(tmp_path: Path) -> None:
    cfg, _ = configured_terminal(tmp_path, 4)
    client = CollectorClient("http://127.0.0.1:9", open_terminal(cfg))
    outcomes: list[str] = []
    stop = threading.Event()
    answers = iter([SyncFailed("collector unreachable"), RuntimeError("bug"), {"batches": 0}])

    def sync_once() -> dict[str, Any]:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def on_round(result: dict[str, Any] | None, error: Exception | None) -> None:
        outcomes.append(type(error).__name__ if error else f"ok {result}")
        if len(outcomes) == 3:
            stop.set()

    client.sync_once = sync_once  # type: ignore[method-assign]
    client.run(stop, interval_s=0.001, on_round=on_round)
    assert outcomes == ["SyncFailed", "RuntimeError", "ok {'batches': 0}"]


def test_face_authorizer_does_not_touch_the_loops_attempts(tmp_path: Path) -> None:
    cfg, _ = configured_terminal(tmp_path, 5)
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return httpx.Response(503)

    client = CollectorClient("http://collector", open_terminal(cfg), attempts=4, backoff_s=0, sleep=lambda s: None,
                             http=httpx.Client(base_url="http://collector", transport=httpx.MockTransport(handler)))
    from terminal.wallet.face_accounts import CollectorUnreachable

    with pytest.raises(CollectorUnreachable):
        client.face_authorizer()("F-1", 100)
    assert len(seen) == 1 and client.attempts == 4


def test_sync_state_writes_wait_for_the_journal_transaction(tmp_path: Path) -> None:
    """A sync write from another thread never lands inside (nor rolls back with) a journal transaction."""
    cfg, _ = configured_terminal(tmp_path, 6)
    t = open_terminal(cfg)
    written = threading.Event()

    def writer() -> None:
        t.state.set("probe", 1)
        written.set()

    with t.db_lock:
        conn = t.journal.db.conn
        conn.execute("BEGIN IMMEDIATE")
        thread = threading.Thread(target=writer)
        thread.start()
        assert not written.wait(0.2)  # blocked on the lock while the transaction is open
        conn.execute("ROLLBACK")
    thread.join(5)
    assert written.is_set() and t.state.get("probe") == 1
