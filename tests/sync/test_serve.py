"""`stallpay collector serve` as a real process on 127.0.0.1: a terminal pairs and uploads with the client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sync.collector.enrollment import new_pairing_code
from sync.collector.event import init_event
from sync.collector.storage import open_store
from sync.collector.summary import summary
from terminal.uplink.client import CollectorClient
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import EVENT, configured_terminal


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, deadline_s: float = 30) -> None:
    """Poll the health endpoint until it answers, the server dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"collector exited early:\n{proc.stderr.read() if proc.stderr else ''}")
            try:
                if http.get(f"{url}/api/v1/time").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling interval, bounded by the deadline above
    raise AssertionError(f"collector not ready within {deadline_s} s")


def test_serve_subprocess_upload(tmp_path: Path) -> None:
    db = tmp_path / "collector.db"
    store = open_store(db)
    init_event(store, EVENT, "EUR")
    code = new_pairing_code(store, vendor="Grill")
    cfg, term = configured_terminal(tmp_path, 9)
    term.book("issue", 1, 4000, method="cash")
    term.book("sale", 1, 1500)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stallpay = Path(sys.executable).with_name("stallpay")
    proc = subprocess.Popen([str(stallpay), "collector", "serve", "--db", str(db), "--keys",
                             str(cfg.parent / "keys.toml"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(url, proc)
        ts = open_terminal(cfg)
        client = CollectorClient(url, ts, attempts=3, backoff_s=0.1)
        assert client.pair(code)["terminal_id"] == 9
        result = client.sync_once()
        assert result["acked_seq"] == term.journal.head()[0] == 4
        assert ts.status()["unsynced_entries"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode is not None
    s = summary(open_store(db))
    assert (s["deposited"], s["spent"], s["outstanding"], s["entries"]) == (4000, 1500, 2500, 4)
