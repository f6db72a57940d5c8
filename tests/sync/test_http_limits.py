"""The collector under hostile or heavy HTTP (issue 15): bodies are limited while they stream, an absurd terminal
id is a 401, and a busy store never stalls the event loop (`/api/v1/time` answers during an ingest)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from sync.collector.api import create_app
from sync.collector.enrollment import enroll
from sync.collector.event import init_event
from sync.collector.storage import open_store
from terminal.config import EventKeys
from tests.sync.journals import EVENT
from tests.sync.test_serve import _free_port, _wait_ready

MB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `collector serve` with terminal 4 enrolled: (url, server pid)."""
    from terminal.config import new_keys_text, write_secret_file

    tmp = tmp_path_factory.mktemp("limits")
    db = tmp / "collector.db"
    store = open_store(db)
    init_event(store, EVENT, "EUR")
    enroll(store, 4, "ab" * 32, role="sale", vendor="Grill")
    store.close()
    write_secret_file(tmp / "keys.toml", new_keys_text(EVENT, bytes(16)))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stallpay = Path(sys.executable).with_name("stallpay")
    proc = subprocess.Popen([str(stallpay), "collector", "serve", "--db", str(db), "--keys", str(tmp / "keys.toml"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(url, proc)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _chunks(total: int, sent: list[int]) -> Iterator[bytes]:
    block = b"\0" * MB
    while sent[0] < total:
        sent[0] += len(block)
        yield block


@pytest.mark.parametrize("tid", ["9223372036854775808", "99999999999999999999999", "-1", "0", "65536",
                                 "\u0661".encode(), "4x"])
def test_absurd_terminal_ids_are_refused_not_a_server_error(served: tuple[str, int], tid: str | bytes) -> None:
    url, _ = served
    r = httpx.post(f"{url}/api/v1/batches", content=b"x", headers={"X-Terminal-Id": tid})
    assert r.status_code == 401 and "terminal signature required" in r.json()["detail"]


def test_big_bodies_are_refused_while_they_stream(served: tuple[str, int]) -> None:
    url, pid = served
    before = _rss_mb(pid)
    with httpx.Client(timeout=30) as http:
        # announced as 200 MB: refused before a byte of it is read
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(f"POST /api/v1/batches HTTP/1.1\r\nHost: x\r\nX-Terminal-Id: 4\r\n"
                        f"Content-Length: {200 * MB}\r\n\r\n".encode())
            assert raw.recv(100).startswith(b"HTTP/1.1 413")
        for target, tid, status in (("/api/v1/batches", "5", 401), ("/api/v1/batches", "4", 413),
                                    ("/api/v1/pair", None, 413), ("/api/v1/pair/keys", None, 413)):
            sent = [0]
            headers = {"X-Terminal-Id": tid} if tid else {"Content-Type": "application/json"}
            try:
                r = http.post(f"{url}{target}", headers=headers, content=_chunks(200 * MB, sent))
                assert r.status_code == status, (target, r.status_code, r.text)
            except httpx.TransportError:  # the server may close the connection while we still send
                pass
            assert sent[0] > 40 * MB and _rss_mb(pid) - before < 80  # sent past the limit, never held
    assert _rss_mb(pid) - before < 80  # at most one batch's limit (32 MB) was ever held


def test_pairing_bodies_are_small(served: tuple[str, int]) -> None:
    url, _ = served
    r = httpx.post(f"{url}/api/v1/pair", content=b'{"code": "' + b"x" * (10 * MB) + b'"}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_time_answers_while_the_store_is_busy(tmp_path: Path) -> None:
    store = open_store(tmp_path / "collector.db")
    init_event(store, EVENT, "EUR")
    enroll(store, 4, "ab" * 32, role="sale", vendor="Grill")
    app = create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32)))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    lock = store._lock  # type: ignore[attr-defined]  # what a long ingest holds
    try:
        with lock:
            upload = threading.Thread(target=lambda: httpx.post(f"{url}/api/v1/batches", content=b"x" * 1000,
                                                                headers={"X-Terminal-Id": "4"}, timeout=30))
            upload.start()
            time.sleep(0.2)  # give the upload time to reach the store (it cannot be awaited: it is blocked)
            r = httpx.get(f"{url}/api/v1/time", timeout=3)
            assert r.status_code == 200
        upload.join(30)
    finally:
        server.should_exit = True
        thread.join(20)
