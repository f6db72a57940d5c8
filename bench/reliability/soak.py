"""Soak: one kiosk (`stallpay demo`, the `serve` app with simulated wristbands and camera) selling at a steady rate
through its HTTP API for a while: card sales, and face pay in a share of them (the simulator shows the enrolled
face). Bands and the face account are topped up at the till when low, so sales stay sales rather than declines.
Reports RSS and open file descriptors over time and tap-to-result latency per window; RSS growth after warm-up must
stay within 10 MB and descriptors must not grow."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.reliability.load import _pct, _rss_mb
from bench.reliability.serve_kills import _ready, _settle, _start, demo_dir
from terminal.commands.demo import FACE_ACCOUNT, FACE_BALANCE

LOW = 1000  # top up below 10.00
TOPUP = "50.00"
RESULTS = ("approved", "declined", "error")


def _fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _result(c: httpx.Client, deadline_s: float = 30.0) -> dict[str, Any]:
    """The flow once it has a result (face pay decides in a worker thread); a second factor is answered."""
    deadline = time.monotonic() + deadline_s
    while True:
        flow = c.get("/api/state").json()["flow"]
        if flow["phase"] in RESULTS or time.monotonic() > deadline:
            return flow
        if flow["phase"] == "face_factor":
            from terminal.commands.demo import FACE_PHONE

            c.post("/api/face/digits", json={"digits": FACE_PHONE})
        time.sleep(0.01)


class Till:
    """The soak's cashier: sells, and tops up what runs low."""

    def __init__(self, c: httpx.Client) -> None:
        self.c = c
        self.band: dict[str, int] = {"alice": 5000, "carol": 2000}
        self.face = FACE_BALANCE
        self.topups = {"card": 0, "face": 0}
        self.n = 0

    def _id(self, kind: str) -> str:
        self.n += 1
        return f"soak-{kind}-{self.n}"

    def card_sale(self, card: str) -> tuple[float, dict[str, Any]]:
        if self.band[card] < LOW:
            self.c.post("/api/start", json={"kind": "topup", "request_id": self._id("t"), "amount": TOPUP,
                                            "method": "cash"})
            self.c.post("/sim/api/tap", json={"card": card})
            flow = _result(self.c)
            if flow["phase"] == "approved":
                self.topups["card"] += 1
                self.band[card] = int(flow["result"]["balance_after"])
            self.c.post("/api/dismiss")
        self.c.post("/api/cart/clear")
        self.c.post("/api/cart/add", json={"sku": "WATER"})
        self.c.post("/api/charge", json={"request_id": self._id("s")})
        tap = time.perf_counter()
        self.c.post("/sim/api/tap", json={"card": card})
        flow = _result(self.c)
        took = time.perf_counter() - tap
        if flow["phase"] == "approved":
            self.band[card] = int(flow["result"]["balance_after"])
        return took, flow

    def face_sale(self) -> tuple[float, dict[str, Any]]:
        if self.face < LOW:
            answer = self.c.post("/api/face/topup", json={"account_id": FACE_ACCOUNT, "amount": TOPUP,
                                                          "method": "cash", "request_id": self._id("ft")})
            if answer.status_code == 200:
                self.topups["face"] += 1
                self.face = int(answer.json().get("balance", self.face))
        self.c.post("/api/cart/clear")
        self.c.post("/api/cart/add", json={"sku": "WATER"})
        self.c.post("/sim/api/face", json={"photo": "obama3.jpg"})
        start = time.perf_counter()
        self.c.post("/api/face/start", json={"request_id": self._id("f")})
        flow = _result(self.c)
        took = time.perf_counter() - start
        if flow["phase"] == "approved":
            self.face = int(flow["result"]["balance_after"])
        return took, flow


def run(seconds: float, rate: float = 1.0, warmup_s: float = 300.0, window: int = 60,
        face_share: float = 0.1) -> dict[str, Any]:
    """`window`: sales per sample of RSS, descriptors and latency; `face_share`: the share of sales paid by face."""
    started = time.monotonic()
    every = max(1, round(1 / face_share)) if face_share else 0
    with tempfile.TemporaryDirectory(prefix="campaign-soak-") as tmp_name:
        folder, port, url = demo_dir(Path(tmp_name))
        proc = _start(folder, port)
        samples: list[tuple[float, float, int]] = []
        windows: list[list[float]] = [[]]
        face_times: list[float] = []
        sales = face_sales = 0
        not_approved: dict[str, int] = {}
        try:
            _ready(url, proc)
            with httpx.Client(base_url=url, timeout=30) as c:
                assert c.post("/api/login", json={"operator": "2", "pin": "2222"}).status_code == 200
                till = Till(c)
                t0 = time.monotonic()
                due = t0
                while time.monotonic() - t0 < seconds:
                    if every and sales % every == every - 1:
                        took, flow = till.face_sale()
                        face_sales += 1
                        face_times.append(took)
                    else:
                        took, flow = till.card_sale("alice" if sales % 2 else "carol")
                    windows[-1].append(took)
                    if flow["phase"] != "approved":
                        code = str((flow.get("result") or {}).get("code") or flow["phase"])
                        not_approved[code] = not_approved.get(code, 0) + 1
                        c.post("/api/cancel", json={})  # still a tap with a result
                    c.post("/api/dismiss")
                    sales += 1
                    if len(windows[-1]) >= window:
                        samples.append((time.monotonic() - t0, _rss_mb(proc.pid), _fds(proc.pid)))
                        windows.append([])
                    due += 1 / rate
                    time.sleep(max(0.0, due - time.monotonic()))
                topups = till.topups
        finally:
            proc.terminate()
            proc.wait(30)
        balance, journal, _card, pending = _settle(folder)
    after_warmup = [s for s in samples if s[0] >= warmup_s] or samples
    rss_growth = round(after_warmup[-1][1] - after_warmup[0][1], 1) if after_warmup else 0.0
    fd_growth = after_warmup[-1][2] - after_warmup[0][2] if after_warmup else 0
    p99s = [_pct(w, 99) for w in windows if w]
    failures = (int(rss_growth > 10) + int(fd_growth > 0) + int(balance != journal) + int(bool(pending))
                + sum(not_approved.values()))
    return {"seconds": round(time.monotonic() - started, 1), "sales": sales, "face_sales": face_sales,
            "not_approved": not_approved, "topups": topups, "face_p99_ms": _pct(face_times, 99),
            "face_p50_ms": _pct(face_times, 50),
            "rss_mb": [round(s[1], 1) for s in samples], "fds": [s[2] for s in samples],
            "rss_growth_after_warmup_mb": rss_growth, "fd_growth": fd_growth, "tap_p99_ms_per_minute": p99s,
            "journal_equals_band": balance == journal, "failures": failures}
