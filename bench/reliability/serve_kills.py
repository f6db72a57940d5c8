"""Process crashes of a running kiosk mid-sale: `stallpay demo` (the `serve` app with the simulator's wristbands)
is driven through its HTTP API (login, cart, charge, tap) and SIGKILLed at a uniformly random moment of a sale.
After each kill the next start and tap of the same wristband settle what was pending: journal = band, nothing
pending, the band not blocked; at the end the collector's books balance."""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.reliability.books import books_ok, collector_books
from bench.reliability.kills import SIGN
from terminal.config import load_config, load_keys
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.ntag import identify
from terminal.wallet.operations import Wallet
from tests.sync.test_serve import _free_port

CARD = "alice"


def demo_dir(tmp: Path) -> tuple[Path, int, str]:
    """A demo terminal set up under `tmp` and a free port for it: (folder, port, url)."""
    folder = tmp / "demo"
    stallpay = Path(sys.executable).with_name("stallpay")
    subprocess.run([str(stallpay), "demo", "--dir", str(folder), "--setup-only"], check=True, capture_output=True)
    port = _free_port()
    return folder, port, f"http://127.0.0.1:{port}"


def _start(folder: Path, port: int, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """The kiosk as an operator starts it; its stderr goes to ``log`` when given (why it died, in a long run)."""
    stallpay = Path(sys.executable).with_name("stallpay")
    with open(log, "ab") if log is not None else contextlib.nullcontext(subprocess.DEVNULL) as err:
        return subprocess.Popen([str(stallpay), "demo", "--dir", str(folder), "--port", str(port), "--no-browser"],
                                stdout=subprocess.DEVNULL, stderr=err, env=env)


def _ready(url: str, proc: subprocess.Popen, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("kiosk exited while starting")
        try:
            if httpx.get(f"{url}/api/state", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("kiosk not ready")


def _sale(url: str, request_id: str) -> None:
    with httpx.Client(base_url=url, timeout=20) as c, contextlib.suppress(httpx.TransportError):  # killed
        c.post("/api/login", json={"operator": "1", "pin": "1111"})
        c.post("/api/cart/clear")
        c.post("/api/cart/add", json={"sku": "WATER"})
        c.post("/api/charge", json={"request_id": request_id})
        c.post("/sim/api/tap", json={"card": CARD})


def _top_up(url: str) -> None:
    """Load the band again when it runs low, so calibration sales stay approved (a cashier's top-up, by HTTP)."""
    with httpx.Client(base_url=url, timeout=20) as c, contextlib.suppress(httpx.TransportError):
        c.post("/api/dismiss")
        c.post("/api/logout")
        c.post("/api/login", json={"operator": "2", "pin": "2222"})
        c.post("/api/start", json={"kind": "topup", "request_id": f"topup-{time.time_ns()}", "amount": "50.00",
                                   "method": "cash"})
        c.post("/sim/api/tap", json={"card": CARD})
        c.post("/api/dismiss")
        c.post("/api/logout")


def _settle(folder: Path) -> tuple[int, int, int, list]:
    """The next tap of the band, with the kiosk stopped: (card balance, journal balance, card id, pending)."""
    config = load_config(folder / "terminal.toml")
    keys = load_keys(config.keys_path, config.event.id)
    wallet = Wallet.open(config, keys)
    reader = EmulatedReader()
    card = NtagEmulator.load(folder / "wristbands" / f"{CARD}.json")
    card.write_through(folder / "wristbands" / f"{CARD}.json")
    reader.place(card)
    connection = reader.wait_for_card(5)
    try:
        state = wallet.read(identify(connection, lazy=True))
    finally:
        connection.close()
        reader.close()
    journal = sum(SIGN[e["op"]] * e["amount"] for e in wallet.journal.entries(card_id=state.card_id)
                  if e["phase"] == "commit")
    return state.balance, journal, state.card_id, wallet.pending()


def run(kills: int, seed: int = 15, *, seconds: float | None = None, recalibrate: int = 25,
        progress: bool = False) -> dict[str, Any]:
    """`seconds`: stop early (the report says how many kills ran); every `recalibrate` kills one sale runs to its end
    to measure the window again (a busier machine makes sales slower: kills must stay spread over the whole sale)."""
    rng = random.Random(seed)
    started = time.monotonic()
    failures: list[str] = []
    counts = {"killed": 0, "sale_finished_first": 0, "calibrations": 0}
    windows: list[float] = []
    done = 0
    with tempfile.TemporaryDirectory(prefix="campaign-serve-") as tmp_name:
        folder, port, url = demo_dir(Path(tmp_name))
        window = 0.0
        i = 0
        while done < kills and (seconds is None or time.monotonic() - started < seconds):
            proc = _start(folder, port)
            try:
                _ready(url, proc, deadline_s=600)  # a busy machine can take minutes to start the kiosk
            except RuntimeError:
                proc.kill()
                proc.wait()
                raise
            t0 = time.monotonic()
            sale = threading.Thread(target=_sale, args=(url, f"kill-{i}"), daemon=True)
            sale.start()
            if i % recalibrate == 0:  # this sale runs to its end: it sets the window kills are drawn from
                sale.join(60)
                window = time.monotonic() - t0
                windows.append(window)
                counts["calibrations"] += 1
                phase = httpx.get(f"{url}/api/state", timeout=10).json()["flow"]["phase"]
                if phase != "approved":
                    failures.append(f"calibration sale {i} ended {phase!r}, not approved")
                _top_up(url)
            else:
                time.sleep(rng.uniform(0, window))
                counts["sale_finished_first" if not sale.is_alive() else "killed"] += 1
                done += 1
            i += 1
            if progress and done % 10 == 0 and i % recalibrate:
                print(f"serve kills: {done} ({time.monotonic() - started:.0f} s, window {window:.2f} s, "
                      f"{len(failures)} failures)", file=sys.stderr, flush=True)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            sale.join(30)
            balance, journal, card_id, pending = _settle(folder)
            if pending:
                failures.append(f"kill {i}: intent left pending")
            if balance != journal:
                failures.append(f"kill {i}: journal {journal} != band {balance}")
        from terminal.wallet.journal import open_journal

        config = load_config(folder / "terminal.toml")
        books = collector_books(open_journal(config.data_dir / "journal.db", terminal_id=config.terminal.id,
                                             event_id=config.event.id, currency=config.event.currency),
                                Path(tmp_name) / "collector.db")
        blocked = [c for c, reason in books["hotlist"] if c == card_id]
        if not books_ok(books) or blocked:
            failures.append(f"books: {books}")
    return {"kills": done, "kills_asked": kills, **counts,
            "window_s": [round(min(windows), 3), round(max(windows), 3)], "books_balance": books["books_balance"],
            "anomalies": books["anomalies"], "failures": len(failures), "failure_samples": failures[:5],
            "seconds": round(time.monotonic() - started, 1)}
