"""Sync fault matrix: a terminal syncs with a real `collector serve` through a fault-injecting HTTP proxy on
127.0.0.1. Each cell injects one kind of fault into a share of the requests or responses (dropped, duplicated,
reordered, truncated, delayed), or restarts the collector, or skews the terminal's clock; the terminal keeps
syncing as its background loop would. Each cell must end with every entry stored exactly once and the books
balanced."""

from __future__ import annotations

import contextlib
import datetime as _dt
import random
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import terminal.uplink.client as client_module
from sync.collector.enrollment import enroll
from sync.collector.event import init_event, set_setting
from sync.collector.storage import open_store
from sync.collector.summary import summary
from terminal.uplink.client import CollectorClient, SyncFailed
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import EVENT, configured_terminal
from tests.sync.test_serve import _free_port, _wait_ready

CELLS = ("none", "drop_request", "drop_response", "duplicate_request", "reorder", "truncate_request",
         "truncate_response", "delay", "collector_restart", "clock_skew")


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message with a Content-Length body (what httpx and uvicorn send here)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class FaultProxy:
    """Forwards each request on a new upstream connection, injecting `fault` with probability `rate`."""

    def __init__(self, upstream_port: int, fault: str, rate: float, rng: random.Random) -> None:
        self.upstream_port, self.fault, self.rate, self.rng = upstream_port, fault, rate, rng
        self.injected = 0
        self.held: list[bytes] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy.serve(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _upstream(self, request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60) as up:
            up.sendall(request.replace(b"keep-alive", b"close"))
            return _read_message(up)

    def _hit(self) -> bool:
        with self._lock:
            hit = self.rng.random() < self.rate
            self.injected += hit
            return hit

    def serve(self, client: socket.socket) -> None:
        while True:
            request = _read_message(client)
            if not request:
                return
            f = self.fault if self._hit() else "none"
            try:
                if f == "drop_request":
                    return
                if f == "truncate_request":
                    with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60) as up:
                        up.sendall(request[:max(1, len(request) - self.rng.randrange(1, 200))])
                    return
                if f == "delay":
                    time.sleep(self.rng.uniform(0.05, 1.5))
                if f == "reorder" and b"POST /api/v1/batches" in request:
                    with self._lock:  # this request goes later, after the next one
                        self.held.append(request)
                    return
                response = self._upstream(request)
                if f == "duplicate_request":
                    response = self._upstream(request)
                with self._lock:
                    late, self.held = self.held, []
                for old in late:
                    with contextlib.suppress(OSError):
                        self._upstream(old)
                if f == "drop_response":
                    return
                if f == "truncate_response":
                    client.sendall(response[:self.rng.randrange(1, max(2, len(response)))])
                    return
                client.sendall(response)
            except OSError:
                return

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Skewed(_dt.datetime):
    skew = _dt.timedelta(0)

    @classmethod
    def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
        return _dt.datetime.now(tz) + cls.skew


def _serve(db: Path, keys: Path, port: int) -> subprocess.Popen:
    stallpay = Path(sys.executable).with_name("stallpay")
    return subprocess.Popen([str(stallpay), "collector", "serve", "--db", str(db), "--keys", str(keys), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def cell(fault: str, entries: int, rng: random.Random, rate: float = 0.3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"campaign-fault-{fault}-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "collector.db"
        store = open_store(db)
        init_event(store, EVENT, "EUR")
        # the collector re-checks the limits these terminals run with (no daily credit ceiling here)
        set_setting(store, "card_limits", {"max_balance": 1_000_000, "ntag_max_balance": 1_000_000,
                                           "credit_per_day": 10**12})
        cfg, term = configured_terminal(tmp, 3)
        enroll(store, 3, open_terminal(cfg).public_key, role="cashier", vendor="Grill")
        store.close()
        term.book("issue", 1, 10**6, method="cash")
        port = _free_port()
        keys = cfg.parent / "keys.toml"
        server = _serve(db, keys, port)
        in_proxy = fault not in ("none", "collector_restart", "clock_skew")
        proxy = FaultProxy(port, fault if in_proxy else "none", rate if in_proxy else 0.0, rng)
        url = f"http://127.0.0.1:{proxy.port}"
        rounds = restarts = 0
        errors: list[str] = []
        try:
            _wait_ready(f"http://127.0.0.1:{port}", server)
            if fault == "clock_skew":
                _Skewed.skew = _dt.timedelta(hours=rng.choice([-1, 1]) * rng.uniform(1, 48))
                client_module.datetime = _Skewed  # type: ignore[misc]
            client = CollectorClient(url, open_terminal(cfg), attempts=3, backoff_s=0.05, max_backoff_s=0.2,
                                     batch_size=10)
            client.http.timeout = 5  # type: ignore[assignment]
            sold = 0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                for _ in range(rng.randrange(0, 12)):
                    if sold < entries:
                        term.book("sale", 1, rng.randrange(1, 100))
                        sold += 1
                if fault == "collector_restart" and rng.random() < 0.4:
                    server.kill()
                    server.wait()
                    server = _serve(db, keys, port)
                    restarts += 1
                    if rng.random() < 0.5:
                        _wait_ready(f"http://127.0.0.1:{port}", server)
                rounds += 1
                try:
                    result = client.sync_once()
                except SyncFailed as exc:
                    errors.append(str(exc)[:120])
                    continue
                if sold >= entries and result["acked_seq"] == term.journal.head()[0]:
                    break
        finally:
            client_module.datetime = _dt.datetime  # type: ignore[misc]
            proxy.close()
            server.terminate()
            server.wait(30)
        store = open_store(db)
        s = summary(store, check_cards=True)
        stored = int(store.scalar("SELECT COUNT(*) FROM entries"))
        distinct = int(store.scalar("SELECT COUNT(*) FROM (SELECT DISTINCT terminal_id, seq FROM entries) d"))
        store.close()
        head = term.journal.head()[0]
        ok = stored == distinct == head == s["entries"] and s["books_balance"] and not s["anomalies"]
        return {"exactly_once": stored == distinct == head, "entries": stored, "journal": head,
                "books_balance": s["books_balance"], "anomalies": s["anomalies"], "faults_injected": proxy.injected,
                "restarts": restarts, "rounds": rounds, "failed_rounds": len(errors), "ok": bool(ok)}


def run(entries: int, seed: int = 15, cells: tuple[str, ...] = CELLS) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    results = {name: cell(name, entries, rng) for name in cells}
    return {"cells": results, "failures": sum(not r["ok"] for r in results.values()),
            "seconds": round(time.monotonic() - started, 1)}
