"""Soak: one kiosk (`stallpay demo`, the `serve` app with simulated wristbands and camera) selling at a steady rate
through its HTTP API for a while: card sales, and face pay in a share of them (the simulator shows the enrolled
face). Bands and the face account are topped up at the till before they would run out, from the balance the
terminal reports after each sale, so sales stay sales rather than declines; the report counts sales approved and
declined by reason, and top-ups declined by reason, so a driver that cannot keep up shows why.

The kiosk's daily credit ceiling (`limits.credit_per_day`, 5,000.00 by default) is raised to what the soak itself
loads: at 1 sale/s of 2.00 a two-hour soak spends 14,400.00, and with the default the ceiling declined every
top-up after the first ~90 and the sales after them for insufficient funds (4,270 of 7,200). The ceiling has its
own tests; the soak looks for leaks and drift.

Warm-up is the first `warmup_s` seconds (10 minutes, or a fifth of a shorter soak): imports, caches and the face
models settle there. RSS and open descriptors are sampled every `sample_s`; growth is the last sample minus the
first one after warm-up (RSS within 10 MB, descriptors not at all). Tap-to-result p99 is reported per `window_s`
(10 minutes, or a fifth of a shorter soak) to show it stays stable."""

from __future__ import annotations

import math
import os
import signal
import sys
import tempfile
import time
import tomllib
import tracemalloc
from pathlib import Path
from typing import Any

import httpx

from bench.reliability.load import _pct, _rss_mb
from bench.reliability.serve_kills import _ready, _settle, _start, demo_dir
from terminal.commands.demo import CATALOGUE, FACE_ACCOUNT, FACE_BALANCE, FACE_PHONE
from terminal.config import write_config

SKU = "WATER"
PRICE = next(int(p["price"]) for p in CATALOGUE if p["sku"] == SKU)
TOPUP = 5000  # 50.00 a top-up
LOW = 5 * PRICE  # top up when fewer than five sales are left (a sale never meets an empty band)
RESULTS = ("approved", "declined", "error")
MAX_RSS_GROWTH_MB = 10.0
UNIT = Path(__file__).resolve().parents[2] / "systemd" / "stallpay-terminal.service"
MEMTRACE = Path(__file__).resolve().parent / "memtrace"  # its sitecustomize.py traces the kiosk's allocations


def unit_environment(unit: Path = UNIT) -> dict[str, str]:
    """The `Environment=` settings of the terminal's systemd unit: the soak runs the kiosk as the Pi does (its
    allocator settings decide how RSS grows)."""
    found: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            for assignment in line.removeprefix("Environment=").split():
                name, _, value = assignment.partition("=")
                found[name] = value.strip('"')
    return found


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
            c.post("/api/face/digits", json={"digits": FACE_PHONE})
        time.sleep(0.01)


def _code(flow: dict[str, Any]) -> str:
    return str((flow.get("result") or {}).get("code") or flow["phase"])


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def allow_credit(folder: Path, seconds: float, rate: float) -> int:
    """Raise the demo kiosk's daily credit ceiling to what this soak will load (with room to spare)."""
    needed = math.ceil(seconds * rate + 100) * PRICE + 10 * TOPUP
    config = folder / "terminal.toml"
    data = tomllib.loads(config.read_text())
    limits = data.setdefault("limits", {})
    limits["credit_per_day"] = max(int(limits.get("credit_per_day", 0)), needed)
    write_config(config, data)
    return limits["credit_per_day"]


class Till:
    """The soak's cashier: sells, and tops up what would run out, going by the balances the terminal reports."""

    def __init__(self, c: httpx.Client) -> None:
        self.c = c
        self.band: dict[str, int | None] = {"alice": None, "carol": None}  # unknown until the first tap reports
        self.face: int | None = FACE_BALANCE
        self.topups = {"card": 0, "face": 0}
        self.topup_declined: dict[str, int] = {}
        self.n = 0

    def _id(self, kind: str) -> str:
        self.n += 1
        return f"soak-{kind}-{self.n}"

    def _declined_topup(self, code: str) -> None:
        self.topup_declined[code] = self.topup_declined.get(code, 0) + 1

    @staticmethod
    def _balance(flow: dict[str, Any]) -> int | None:
        """The balance the terminal reports after a tap: after the sale, or what the declined card holds."""
        result = flow.get("result") or {}
        for key in ("balance_after", "balance"):
            if isinstance(result.get(key), int):
                return int(result[key])
        return None

    def card_sale(self, card: str) -> tuple[float, dict[str, Any]]:
        known = self.band[card]
        if known is not None and known < LOW:
            self.c.post("/api/start", json={"kind": "topup", "request_id": self._id("t"), "amount": _money(TOPUP),
                                            "method": "cash"})
            self.c.post("/sim/api/tap", json={"card": card})
            flow = _result(self.c)
            if flow["phase"] == "approved":
                self.topups["card"] += 1
            else:
                self._declined_topup(_code(flow))
                self.c.post("/api/cancel", json={})
            reported = self._balance(flow)
            self.band[card] = reported if reported is not None else known
            self.c.post("/api/dismiss")
        self.c.post("/api/cart/clear")
        self.c.post("/api/cart/add", json={"sku": SKU})
        self.c.post("/api/charge", json={"request_id": self._id("s")})
        tap = time.perf_counter()
        self.c.post("/sim/api/tap", json={"card": card})
        flow = _result(self.c)
        took = time.perf_counter() - tap
        balance = self._balance(flow)
        if balance is not None:
            self.band[card] = balance
        elif flow["phase"] != "approved":
            self.band[card] = 0  # declined without a balance: top up before the next sale
        return took, flow

    def face_sale(self) -> tuple[float, dict[str, Any]]:
        if self.face is None or self.face < LOW:
            answer = self.c.post("/api/face/topup", json={"account_id": FACE_ACCOUNT, "amount": _money(TOPUP),
                                                          "method": "cash", "request_id": self._id("ft")})
            if answer.status_code == 200:
                self.topups["face"] += 1
                self.face = int(answer.json()["balance"])
            else:
                self._declined_topup(str(answer.json().get("code") or answer.status_code))
        self.c.post("/api/cart/clear")
        self.c.post("/api/cart/add", json={"sku": SKU})
        self.c.post("/sim/api/face", json={"photo": "obama3.jpg"})
        start = time.perf_counter()
        self.c.post("/api/face/start", json={"request_id": self._id("f")})
        flow = _result(self.c)
        took = time.perf_counter() - start
        if flow["phase"] == "approved":
            balance = self._balance(flow)
            self.face = balance if balance is not None else (self.face or 0) - PRICE
        elif _code(flow) == "insufficient_funds":
            self.face = 0
        return took, flow


def memory_growth(pid: int, traces: Path, top: int = 12, deadline_s: float = 300.0) -> dict[str, Any]:
    """Ask the kiosk for its second snapshot and compare it with the first: Python heap growth in total and the
    `top` places (allocation tracebacks, innermost last) that grew most. RSS growth beyond it is native memory
    (SQLite's page cache, the face models, the allocator's arenas)."""
    os.kill(pid, signal.SIGUSR1)
    first, last = traces / "snapshot-1.pickle", traces / "snapshot-2.pickle"
    deadline = time.monotonic() + deadline_s
    while not (first.exists() and last.exists()):  # a snapshot of a big heap takes seconds
        if time.monotonic() > deadline:
            return {"error": "the kiosk wrote no snapshot"}
        time.sleep(0.5)
    before, after = tracemalloc.Snapshot.load(str(first)), tracemalloc.Snapshot.load(str(last))
    stats = after.compare_to(before, "traceback")
    root = str(Path(__file__).resolve().parents[2]) + os.sep

    def where(frame: tracemalloc.Frame) -> str:
        name = frame.filename.replace(root, "").split("site-packages" + os.sep)[-1]
        return f"{name}:{frame.lineno}"

    return {"growth_mb": round(sum(s.size_diff for s in stats) / 2**20, 2),
            "total_mb": round(sum(s.size for s in stats) / 2**20, 1),
            "top": [{"kb": round(s.size_diff / 1024, 1), "blocks": s.count_diff,
                     "at": [where(f) for f in s.traceback][-4:]}
                    for s in sorted(stats, key=lambda s: -s.size_diff)[:top]]}


def _tail(log: Path, chars: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"(no log: {exc})"


def _growth(samples: list[tuple[float, float, int]], warmup_s: float) -> dict[str, Any]:
    """RSS and descriptor growth from the first sample after warm-up to the last one."""
    after = [s for s in samples if s[0] >= warmup_s]
    if len(after) < 2:
        return {"rss_baseline_mb": None, "rss_growth_after_warmup_mb": 0.0, "rss_max_growth_after_warmup_mb": 0.0,
                "fd_baseline": None, "fd_growth": 0, "samples_after_warmup": len(after)}
    base = after[0]
    return {"rss_baseline_mb": round(base[1], 1), "rss_growth_after_warmup_mb": round(after[-1][1] - base[1], 1),
            "rss_max_growth_after_warmup_mb": round(max(s[1] for s in after) - base[1], 1),
            "fd_baseline": base[2], "fd_growth": after[-1][2] - base[2], "samples_after_warmup": len(after)}


def run(seconds: float, rate: float = 1.0, warmup_s: float | None = None, window_s: float | None = None,
        sample_s: float = 60.0, face_share: float = 0.1, trace_memory: bool = False) -> dict[str, Any]:
    """`warmup_s`, `window_s`: default 10 minutes, or a fifth of a soak shorter than 50 minutes; `face_share`: the
    share of sales paid by face; `trace_memory`: the kiosk runs under tracemalloc (`memtrace/`), snapshotted at the
    end of the warm-up and at the end, and the report names where Python's heap grew in between (tracing slows
    the kiosk: its latencies are not comparable with an untraced run)."""
    started = time.monotonic()
    warmup_s = min(600.0, seconds / 5) if warmup_s is None else warmup_s
    window_s = min(600.0, seconds / 5) if window_s is None else window_s
    every = max(1, round(1 / face_share)) if face_share else 0
    with tempfile.TemporaryDirectory(prefix="campaign-soak-") as tmp_name:
        folder, port, url = demo_dir(Path(tmp_name))
        ceiling = allow_credit(folder, seconds, rate)
        environment = unit_environment()
        env = {**os.environ, **environment}
        traces = Path(tmp_name) / "memtrace" if trace_memory else None
        if traces is not None:
            traces.mkdir()
            env.update(STALLPAY_MEMTRACE_DIR=str(traces),
                       PYTHONPATH=os.pathsep.join(filter(None, (str(MEMTRACE), env.get("PYTHONPATH")))))
        log = Path(tmp_name) / "kiosk-stderr.log"
        proc = _start(folder, port, env=env, log=log)
        traced: dict[str, Any] = {}
        samples: list[tuple[float, float, int]] = []
        windows: dict[int, list[float]] = {}
        face_times: list[float] = []
        sales = face_sales = approved = 0
        details: list[dict[str, Any]] = []
        declined: dict[str, int] = {}
        try:
            _ready(url, proc)
            with httpx.Client(base_url=url, timeout=30) as c:
                assert c.post("/api/login", json={"operator": "2", "pin": "2222"}).status_code == 200
                till = Till(c)
                t0 = time.monotonic()
                due = next_sample = t0
                while time.monotonic() - t0 < seconds:
                    if time.monotonic() >= next_sample:
                        samples.append((time.monotonic() - t0, _rss_mb(proc.pid), _fds(proc.pid)))
                        next_sample += sample_s
                    at = time.monotonic() - t0
                    if traces is not None and at >= warmup_s and not any(traces.iterdir()):
                        os.kill(proc.pid, signal.SIGUSR1)  # the first snapshot: the warm-up is over
                    if every and sales % every == every - 1:
                        took, flow = till.face_sale()
                        face_sales += 1
                        face_times.append(took)
                    else:
                        took, flow = till.card_sale("alice" if sales % 2 else "carol")
                    windows.setdefault(int(at // window_s), []).append(took)
                    if flow["phase"] == "approved":
                        approved += 1
                    else:
                        declined[_code(flow)] = declined.get(_code(flow), 0) + 1
                        if len(details) < 20:  # what the screen said, for a decline nobody expected
                            result = flow.get("result") or {}
                            details.append({"at_s": round(at, 1), "code": _code(flow),
                                            "message": str(result.get("message") or "")[:200]})
                        c.post("/api/cancel", json={})  # still a tap with a result
                    c.post("/api/dismiss")
                    sales += 1
                    due += 1 / rate
                    time.sleep(max(0.0, due - time.monotonic()))
                samples.append((time.monotonic() - t0, _rss_mb(proc.pid), _fds(proc.pid)))
                if traces is not None:
                    traced = memory_growth(proc.pid, traces)
        finally:
            died = proc.poll()  # None while it runs: a code here means the kiosk ended on its own
            proc.terminate()
            proc.wait(30)
            if died is not None:
                print(f"soak: the kiosk exited with {died}; its stderr ends:\n{_tail(log)}", file=sys.stderr)
        balance, journal, _card, pending = _settle(folder)
    growth = _growth(samples, warmup_s)
    p99s = [_pct(windows[k], 99) for k in sorted(windows)]
    steady = p99s[1:] if len(p99s) > 1 else p99s  # the first window holds the warm-up
    failures = (int(growth["rss_growth_after_warmup_mb"] > MAX_RSS_GROWTH_MB) + int(growth["fd_growth"] > 0)
                + int(balance != journal) + int(bool(pending)) + sum(declined.values())
                + sum(till.topup_declined.values()) + int(died is not None))
    return {"seconds": round(time.monotonic() - started, 1), "credit_per_day": ceiling, "environment": environment,
            "sales": {"total": sales, "face": face_sales, "approved": approved, "declined": declined},
            "declined_details": details,
            "insufficient_funds": declined.get("insufficient_funds", 0),
            "topups": {**till.topups, "declined": till.topup_declined},
            "face_p50_ms": _pct(face_times, 50), "face_p99_ms": _pct(face_times, 99),
            "warmup_s": warmup_s, "sample_s": sample_s, **growth,
            "rss_mb": [round(s[1], 1) for s in samples], "fds": [s[2] for s in samples],
            "window_s": window_s, "tap_p99_ms_per_window": p99s,
            "tap_p99_steady_max_over_min": round(max(steady) / min(steady), 2) if steady and min(steady) else None,
            "kiosk_exit": died, "journal_equals_band": balance == journal, "pending": len(pending),
            "failures": failures,
            **({"python_heap": traced} if trace_memory else {})}
