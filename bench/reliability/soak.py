"""Soak: one kiosk (`stallpay demo`, the `serve` app with simulated wristbands) selling at a steady rate through
its HTTP API for a while. Reports RSS and open file descriptors over time and tap-to-result latency per window;
RSS growth after warm-up must stay within 10 MB and descriptors must not grow. Card sales only: face pay in the
soak is not driven yet."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.reliability.load import _pct, _rss_mb
from bench.reliability.serve_kills import _ready, _settle, _start, demo_dir


def _fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def run(seconds: float, rate: float = 1.0, warmup_s: float = 30.0, window: int = 60) -> dict[str, Any]:
    """`window`: sales per sample of RSS, descriptors and latency."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="campaign-soak-") as tmp_name:
        folder, port, url = demo_dir(Path(tmp_name))
        proc = _start(folder, port)
        samples: list[tuple[float, float, int]] = []
        windows: list[list[float]] = [[]]
        sales = declined = 0
        try:
            _ready(url, proc)
            with httpx.Client(base_url=url, timeout=20) as c:
                assert c.post("/api/login", json={"operator": "1", "pin": "1111"}).status_code == 200
                t0 = time.monotonic()
                due = t0
                while time.monotonic() - t0 < seconds:
                    card = "alice" if sales % 2 else "carol"
                    c.post("/api/cart/clear")
                    c.post("/api/cart/add", json={"sku": "WATER"})
                    c.post("/api/charge", json={"request_id": f"soak-{sales}"})
                    tap = time.perf_counter()
                    c.post("/sim/api/tap", json={"card": card})
                    windows[-1].append(time.perf_counter() - tap)
                    phase = c.get("/api/state").json()["flow"]["phase"]
                    if phase != "approved":
                        declined += 1
                        c.post("/api/cancel", json={})  # a band out of money: still a tap with a result
                    sales += 1
                    if len(windows[-1]) >= window:
                        samples.append((time.monotonic() - t0, _rss_mb(proc.pid), _fds(proc.pid)))
                        windows.append([])
                    due += 1 / rate
                    time.sleep(max(0.0, due - time.monotonic()))
        finally:
            proc.terminate()
            proc.wait(30)
        balance, journal, _card, pending = _settle(folder)
    after_warmup = [s for s in samples if s[0] >= warmup_s] or samples
    rss_growth = round(after_warmup[-1][1] - after_warmup[0][1], 1) if after_warmup else 0.0
    fd_growth = after_warmup[-1][2] - after_warmup[0][2] if after_warmup else 0
    p99s = [_pct(w, 99) for w in windows if w]
    failures = int(rss_growth > 10) + int(fd_growth > 0) + int(balance != journal) + int(bool(pending))
    return {"seconds": round(time.monotonic() - started, 1), "sales": sales, "not_approved": declined,
            "rss_mb": [round(s[1], 1) for s in samples], "fds": [s[2] for s in samples],
            "rss_growth_after_warmup_mb": rss_growth, "fd_growth": fd_growth, "tap_p99_ms_per_minute": p99s,
            "journal_equals_band": balance == journal, "failures": failures}

