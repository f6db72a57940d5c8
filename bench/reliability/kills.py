"""Process crashes: `stallpay card charge/topup` SIGKILLed at a uniformly random moment of its run, on the
configured emulated wristband (which writes through like a real tag). After each kill the next tap settles
what was pending and journal = card; at the end the collector agrees: books balance, no anomaly, the band is
not blocked."""

from __future__ import annotations

import contextlib
import io
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.reliability.books import books_ok, collector_books
from terminal.cli import main
from terminal.config import load_config
from terminal.wallet.journal import Journal, open_journal

SIGN = {"issue": 1, "topup": 1, "void": 1, "sale": -1, "close": -1, "replace": 1}


def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(args))
    lines = out.getvalue().strip().splitlines()
    try:
        return code, (json.loads(lines[-1]) if lines else {})
    except ValueError:  # not a --json command
        return code, {}


def _journal(config: str) -> Journal:
    cfg = load_config(config)
    return open_journal(cfg.data_dir / "journal.db", terminal_id=cfg.terminal.id, event_id=cfg.event.id,
                        currency=cfg.event.currency)


def _journal_balance(journal: Journal, card_id: int) -> int:
    return sum(SIGN[e["op"]] * e["amount"] for e in journal.entries(card_id=card_id) if e["phase"] == "commit")


def next_tap(config: str, card_id: int, label: str) -> list[str]:
    """`stallpay card read` (it settles anything pending) and what disagrees afterwards; tops the band up when
    it runs low so the campaign can go on."""
    code, state = _cli("card", "read", "--config", config, "--json")
    if code != 0:
        return [f"{label}: next tap refused: {state}"]
    problems = []
    journal = _journal(config)
    if journal.pending():
        problems.append(f"{label}: intent left pending")
    if _journal_balance(journal, card_id) != state["balance"]:
        problems.append(f"{label}: journal {_journal_balance(journal, card_id)} != card {state['balance']}")
    if state["balance"] < 5000:
        _cli("card", "topup", "--config", config, "--amount-minor", "15000", "--json")
    return problems


def run(kills: int, seed: int = 15) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    failures: list[str] = []
    stallpay = str(Path(sys.executable).with_name("stallpay"))
    outcomes = {"killed": 0, "finished_first": 0}
    with tempfile.TemporaryDirectory(prefix="campaign-kill-") as tmp:
        assert _cli("init", "--dir", tmp, "--event", "campaign", "--terminal", "5", "--mode", "cashier")[0] == 0
        config = f"{tmp}/terminal.toml"
        code, issued = _cli("card", "issue", "--config", config, "--amount-minor", "20000", "--json")
        assert code == 0, issued
        card_id = issued["card_id"]
        t0 = time.monotonic()  # one full run sets the window the kill moment is drawn from
        subprocess.run([stallpay, "card", "charge", "--config", config, "--amount-minor", "1"], capture_output=True,
                       check=True)
        window = time.monotonic() - t0
        for i in range(kills):
            op = "topup" if i % 4 == 3 else "charge"
            proc = subprocess.Popen([stallpay, "card", op, "--config", config, "--amount-minor",
                                     str(rng.randrange(1, 300)), "--json"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, window))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                outcomes["killed"] += 1
            else:
                outcomes["finished_first"] += 1
            proc.wait()
            problems = next_tap(config, card_id, f"kill {i}")
            failures.extend(problems)
            if problems and "refused" in problems[0]:
                break
        books = collector_books(_journal(config), Path(tmp) / "collector.db")
        if not books_ok(books):
            failures.append(f"books: {books}")
    return {"kills": outcomes["killed"], "finished_before_kill": outcomes["finished_first"], "runs": kills,
            "window_s": round(window, 3), "books_balance": books["books_balance"], "anomalies": books["anomalies"],
            "blocked": books["hotlist"], "failures": len(failures), "failure_samples": failures[:5],
            "seconds": round(time.monotonic() - started, 1)}
