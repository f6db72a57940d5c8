"""Load: many terminals uploading to one real `collector serve` at once, while a client polls `/api/v1/time`.

Each terminal comes back online with a backlog, then keeps selling and syncing every second for the duration.
Reports entries/s stored, upload request latency p50/p99, `/api/v1/time` p50/p99/max during the uploads, the
server's peak RSS, and whether every entry arrived exactly once with the books balanced."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from sync.collector.enrollment import enroll
from sync.collector.event import init_event, set_setting
from sync.collector.storage import open_store
from sync.collector.summary import summary
from terminal.uplink.client import CollectorClient, SyncFailed
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import EVENT, configured_terminal
from tests.sync.test_serve import _free_port, _wait_ready


class _Timed(httpx.Client):
    """Records the wall time of every upload request."""

    def __init__(self, latencies: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latencies = latencies

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        t0 = time.perf_counter()
        try:
            return super().send(request, **kwargs)
        finally:
            if request.url.path == "/api/v1/batches":
                self.latencies.append(time.perf_counter() - t0)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)


CLIENT_NICE = 10  # Linux: per thread
POLLER = """
import sys, threading, time, httpx
url, out = sys.argv[1], sys.argv[2]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
with httpx.Client(base_url=url, timeout=10) as http, open(out, "w", buffering=1) as f:
    while not stop.is_set():
        t0 = time.perf_counter()
        http.get("/api/v1/time")
        f.write(f"{time.perf_counter() - t0}\\n")
        stop.wait(0.02)
"""


def _cpu_s(pid: int) -> float:
    """CPU seconds the process itself used (user + system): the one holding the server's GIL."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(terminals: int, backlog: int, seconds: float, rate: float = 1.0, workers: int = 2,
        idle_s: float = 15.0) -> dict[str, Any]:
    """`backlog` entries per terminal before it comes online, then `rate` sales/s each for `seconds`; `workers`:
    the server's `--ingest-workers`; `idle_s`: how long `/api/v1/time` is polled first with no upload (the host's
    own latency, a control for a shared machine)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="campaign-load-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "collector.db"
        store = open_store(db)
        init_event(store, EVENT, "EUR")
        # the collector re-checks the limits these terminals run with (no daily credit ceiling here)
        set_setting(store, "card_limits", {"max_balance": 10**8, "ntag_max_balance": 10**8,
                                           "credit_per_day": 10**12})
        terms = []
        for tid in range(1, terminals + 1):
            cfg, term = configured_terminal(tmp, tid)
            enroll(store, tid, open_terminal(cfg).public_key, role="cashier", vendor="Grill")
            term.book("issue", tid, 10**9 // 100, method="cash")
            for i in range(backlog):
                term.book("sale", tid, 1 + i % 50)
            terms.append((cfg, term))
        store.close()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        stallpay = Path(sys.executable).with_name("stallpay")
        log = (tmp / "collector.log").open("ab")  # a file: an unread pipe would stall the server
        proc = subprocess.Popen([str(stallpay), "collector", "serve", "--db", str(db), "--keys",
                                 str(terms[0][0].parent / "keys.toml"), "--host", "127.0.0.1", "--port", str(port),
                                 "--ingest-workers", str(workers)], stdout=log, stderr=log)
        upload_ms: list[float] = []
        time_ms: list[float] = []
        rss: list[float] = []
        errors: list[str] = []
        stop = threading.Event()
        try:
            try:
                _wait_ready(url, proc)
            except AssertionError:
                log.flush()
                raise AssertionError((tmp / "collector.log").read_text()[-3000:]) from None
            rss_before = _rss_mb(proc.pid)

            # the clock is polled from its own process: the 50 terminals' threads here must not delay its reading
            # the control: the same polling with no upload, on the same machine just before (what the host allows)
            idle_file = tmp / "time_idle_s.txt"
            idle = subprocess.Popen([sys.executable, "-c", POLLER, url, str(idle_file)], stdin=subprocess.PIPE)
            started_polling = time.monotonic() + 60
            while not (idle_file.exists() and idle_file.stat().st_size) and time.monotonic() < started_polling:
                time.sleep(0.05)  # the poller's interpreter is still starting
            time.sleep(min(idle_s, seconds))
            idle.communicate(b"stop", timeout=30)
            idle_ms = [float(x) for x in idle_file.read_text().split()]
            times_file = tmp / "time_s.txt"
            poller = subprocess.Popen([sys.executable, "-c", POLLER, url, str(times_file)], stdin=subprocess.PIPE)
            cpu_before = _cpu_s(proc.pid)

            def watch_rss() -> None:
                while not stop.wait(0.1):
                    rss.append(_rss_mb(proc.pid))

            def terminal(cfg: Path, term: Any) -> None:
                # the terminals are other machines: on this one they yield the CPU to the collector and the clock
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CLIENT_NICE)
                client = CollectorClient(url, open_terminal(cfg), attempts=5, backoff_s=0.2,
                                         http=_Timed(upload_ms, base_url=url, timeout=60))
                deadline = time.monotonic() + seconds
                due = time.monotonic()
                while True:
                    try:
                        client.sync_once()
                    except SyncFailed as exc:
                        errors.append(str(exc))
                    if time.monotonic() >= deadline:
                        break
                    while due <= time.monotonic():  # the sales made meanwhile
                        term.book("sale", term.terminal_id, 7)
                        due += 1 / rate
                    stop.wait(1.0)
                try:
                    client.sync_once()
                except SyncFailed as exc:
                    errors.append(str(exc))

            watcher = threading.Thread(target=watch_rss, daemon=True)
            watcher.start()
            t0 = time.monotonic()
            threads = [threading.Thread(target=terminal, args=t) for t in terms]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - t0
            server_cpu = _cpu_s(proc.pid) - cpu_before
            stop.set()
            poller.communicate(b"stop", timeout=30)
            time_ms.extend(float(x) for x in times_file.read_text().split())
            watcher.join(10)
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()
        store = open_store(db)
        s = summary(store, check_cards=True)
        stored = int(store.scalar("SELECT COUNT(*) FROM entries"))
        store.close()
        expected = sum(t.journal.head()[0] for _, t in terms)
        return {"terminals": terminals, "backlog_per_terminal": backlog, "ingest_workers": workers,
                "seconds": round(elapsed, 1),
                "entries": stored, "entries_expected": expected, "exactly_once": stored == expected == s["entries"],
                "entries_per_s": round(stored / elapsed, 1), "uploads": len(upload_ms),
                "upload_p50_ms": _pct(upload_ms, 50), "upload_p99_ms": _pct(upload_ms, 99),
                "time_requests": len(time_ms), "time_p50_ms": _pct(time_ms, 50), "time_p99_ms": _pct(time_ms, 99),
                "time_max_ms": _pct(time_ms, 100), "time_idle_p50_ms": _pct(idle_ms, 50),
                "time_idle_p99_ms": _pct(idle_ms, 99), "load_average": os.getloadavg()[0], "client_nice": CLIENT_NICE,
                "time_mean_ms": round(statistics.fmean(time_ms) * 1000, 1) if time_ms else 0,
                "rss_before_mb": round(rss_before, 1), "rss_peak_mb": round(max(rss or [0]), 1),
                "server_cpu_s": round(server_cpu, 1),
                "books_balance": s["books_balance"], "sync_errors": len(errors), "error_samples": errors[:3],
                "failures": int(stored != expected) + int(not s["books_balance"]) + len(errors),
                "wall_s": round(time.monotonic() - started, 1)}
