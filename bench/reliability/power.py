"""Power cuts: the terminal's SQLite files lose every write no fsync made durable (`powercut.c`, an LD_PRELOAD
shim, logs each write with the bytes it replaced; the process dies at a uniformly random write, and the harness
rolls back the unsynced writes, keeping a random subset as a disk that reorders may). The wristband is another
device and keeps what was written to it.

After each cut: every sale whose result was shown survives in the journal, the hash chain verifies, and the next
start and tap recover without a hand (pending intents settled, journal = card); at the end the books balance."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.reliability.books import books_ok, collector_books
from bench.reliability.kills import _cli, _journal, next_tap

SHIM = Path(__file__).with_name("powercut.c")
SALES_PER_RUN = 12

_DRIVER = """
import sys
from terminal.station import Station
station = Station.open(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with station.tap(5) as tag:
        out = station.wallet.charge(tag, 1)
    print(out.entry["seq"], flush=True)  # the result is shown
station.close()
"""


def build_shim(folder: Path) -> Path:
    lib = folder / "powercut.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(SHIM), "-ldl"], check=True,
                   capture_output=True)
    return lib


def _records(log: Path) -> list[tuple]:
    data = log.read_bytes() if log.exists() else b""
    out: list[tuple] = []
    i = 0

    def take(n: int) -> bytes:
        nonlocal i
        chunk = data[i:i + n]
        i += n
        return chunk

    while i < len(data):
        kind = take(1)
        path = take(struct.unpack("<I", take(4))[0]).decode()
        if kind == b"S":
            out.append(("S", path))
        elif kind == b"W":
            off, old_size, old_len = struct.unpack("<qqq", take(24))
            old = take(old_len)
            new = take(struct.unpack("<q", take(8))[0])
            out.append(("W", path, off, old_size, old, new))
        else:
            new_size, old_size, old_len = struct.unpack("<qqq", take(24))
            out.append(("T", path, new_size, old_size, take(old_len)))
    return out


def cut_power(log: Path, rng: random.Random) -> dict[str, int]:
    """Roll back every write after its file's last sync; then replay a random subset of them in order."""
    records = _records(log)
    last_sync: dict[str, int] = {}
    for n, r in enumerate(records):
        if r[0] == "S":
            last_sync[r[1]] = n
    unsynced = [(n, r) for n, r in enumerate(records) if r[0] != "S" and n > last_sync.get(r[1], -1)]
    for _, r in reversed(unsynced):
        if not os.path.exists(r[1]):
            continue
        with open(r[1], "r+b") as f:
            if r[0] == "W":
                f.seek(r[2])
                f.write(r[4])
                f.truncate(r[3])
            else:
                f.truncate(r[3])
                if r[4]:
                    f.seek(r[2])
                    f.write(r[4])
    kept = [r for _, r in unsynced if rng.random() < 0.5]
    for r in kept:
        if not os.path.exists(r[1]):
            continue
        with open(r[1], "r+b") as f:
            if r[0] == "W":
                f.seek(r[2])
                f.write(r[5])
            else:
                f.truncate(r[2])
    return {"writes": sum(1 for r in records if r[0] != "S"), "unsynced": len(unsynced), "kept": len(kept)}


def run(cuts: int, seed: int = 15) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    failures: list[str] = []
    lost_unsynced = kept_unsynced = shown_total = 0
    with tempfile.TemporaryDirectory(prefix="campaign-power-") as tmp_name:
        tmp = Path(tmp_name)
        lib = build_shim(tmp)
        made = _cli("init", "--dir", str(tmp / "t"), "--event", "campaign", "--terminal", "6", "--mode", "cashier")
        assert made[0] == 0
        config = str(tmp / "t" / "terminal.toml")
        code, issued = _cli("card", "issue", "--config", config, "--amount-minor", "20000", "--json")
        assert code == 0, issued
        card_id = issued["card_id"]
        data_dir = str((tmp / "t" / "data").resolve())
        env = {**os.environ, "LD_PRELOAD": str(lib), "STALLPAY_CUT_DIR": data_dir}

        def drive(log: Path, cut_after: int) -> tuple[int, list[int]]:
            log.unlink(missing_ok=True)
            proc = subprocess.run([sys.executable, "-c", _DRIVER, config, str(SALES_PER_RUN)], capture_output=True,
                                  text=True, env={**env, "STALLPAY_CUT_LOG": str(log),
                                                  "STALLPAY_CUT_AFTER": str(cut_after)}, timeout=120)
            return proc.returncode, [int(x) for x in proc.stdout.split()]

        log = tmp / "writes.log"
        rc, shown = drive(log, 0)  # calibration: how many writes a run makes
        assert rc == 0 and len(shown) == SALES_PER_RUN, rc
        per_run = cut_power(log, rng)["writes"]
        for i in range(cuts):
            rc, shown = drive(log, rng.randrange(1, per_run + 1))
            shown_total += len(shown)
            model = cut_power(log, rng) if rc == 137 else {"unsynced": 0, "kept": 0}
            lost_unsynced += model["unsynced"] - model["kept"]
            kept_unsynced += model["kept"]
            try:
                journal = _journal(config)  # the next start
                journal.verify_chain()
                head = journal.head()[0]
            except Exception as exc:
                failures.append(f"cut {i}: journal does not open or verify: {exc}")
                break
            if shown and head < max(shown):
                failures.append(f"cut {i}: entry {max(shown)} was shown but the journal ends at {head}")
            problems = next_tap(config, card_id, f"cut {i}")
            failures.extend(problems)
            if problems and "refused" in problems[0]:
                break
        books = collector_books(_journal(config), tmp / "collector.db")
        if not books_ok(books):
            failures.append(f"books: {books}")
    return {"cuts": cuts, "writes_per_run": per_run, "sales_shown": shown_total,
            "unsynced_writes_lost": lost_unsynced, "unsynced_writes_kept": kept_unsynced,
            "books_balance": books["books_balance"], "failures": len(failures), "failure_samples": failures[:5],
            "seconds": round(time.monotonic() - started, 1)}
