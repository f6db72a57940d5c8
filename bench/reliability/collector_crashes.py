"""Collector crashes: `stallpay collector ingest` SIGKILLed at a random moment of a USB import, on SQLite and
PostgreSQL. The re-run must store every entry exactly once and reconcile as a clean run does (same anomalies,
same hotlist, same books), and no worker process may outlive the killed ingest.

When to kill: a run's wall time is mostly interpreter start-up, which varies with the machine's load (a window
calibrated once on the whole run, 4.1 s on a busy machine, let most later runs finish first). So each run is
watched until its ingest has begun (its batch-checking worker processes exist), and killed at a moment drawn
uniformly within the ingest duration measured per backend (start of ingest to exit: the shortest of a few clean
runs and of the latest runs that finished before their kill, as the machine's load changes), so nearly every run
dies mid-ingest: checking, storing or reconciling."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sync.collector.ledger import hotlist
from sync.collector.storage import open_store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.keys import public_hex
from terminal.cli import main
from terminal.uplink.export import batches
from tests.sync.journals import Cards, Term, make_terminal

EVENT = "test-event"
ORPHAN_S = 60.0
POLL_S = 0.002  # how often a starting ingest is checked for its workers
CALIBRATION_RUNS = 3  # clean ingests timed per backend; the shortest sets the kill window
RECENT = 5  # ingest durations the kill window is the shortest of (calibration first, then runs that beat the kill)
INTENDED = {5, 6}  # make_usb's cloned and rolled-back cards: the only anomalies a clean run may show


def make_usb(folder: Path, terminals: int = 6, sales: int = 60) -> list[Term]:
    """Terminals' batches on a stick: ordinary sales, plus a cloned card and a rolled-back one (anomalies)."""
    cards = Cards()
    terms = [make_terminal(folder / "terms", t, cards) for t in range(1, terminals + 1)]
    for t in terms:
        for c in range(3):
            t.book("issue", t.terminal_id * 100 + c, 20_000, method="cash")
        for i in range(sales):
            t.book("sale", t.terminal_id * 100 + i % 3, 10 + i)
    terms[0].book("issue", 5, 5000, method="cash")
    terms[0].book("sale", 5, 1000)
    terms[1].book("sale", 5, 2000, card_seq=2, balance_before=5000)  # a clone spent twice
    terms[0].book("issue", 6, 5000, method="cash")
    terms[0].book("sale", 6, 1000)
    terms[0].book("sale", 6, 500, card_seq=2, balance_before=5000)  # rolled back
    usb = folder / "usb"
    usb.mkdir(parents=True)
    for t in terms:
        for b in batches(t.journal, t.key, batch_size=10):
            (usb / b.filename()).write_bytes(encode(b))
    return terms


def _quiet(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(list(args))


def _new_db(target: str, terms: list[Term]) -> None:
    assert _quiet("collector", "init", "--db", target, "--event-id", EVENT) == 0
    for t in terms:
        # cashier: every terminal here issues cards, which a sale-only terminal may not (refused credits)
        assert _quiet("collector", "enroll", "--db", target, "--terminal", str(t.terminal_id), "--public-key",
                      public_hex(t.key), "--role", "cashier") == 0


def outcome(target: str) -> dict[str, Any]:
    store = open_store(target)
    try:
        s = summary(store, check_cards=True)
        return {"entries": s["entries"], "stored_rows": store.scalar("SELECT COUNT(*) FROM entries"),
                "books_balance": s["books_balance"], "outstanding": s["outstanding"],
                "anomalies": sorted((r["card_id"], r["kind"]) for r in store.query("SELECT card_id, kind FROM "
                                                                                    "anomalies")),
                "hotlist": hotlist(store)}
    finally:
        store.close()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _workers_of(pid: int) -> list[int]:
    """The process's children, cheaply (polled every few milliseconds while an ingest starts)."""
    try:
        return [int(w) for w in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:  # no such file on this kernel, or the process is gone
        return _children(pid)


def _start_ingest(stallpay: str, target: str, usb: Path, deadline_s: float = 120.0) -> tuple[subprocess.Popen,
                                                                                                 float | None]:
    """An ingest started and watched until its ingest has begun (its worker processes exist): (the process, the
    monotonic moment it began, or None when it exited or took longer than `deadline_s` before that)."""
    proc = subprocess.Popen([stallpay, "collector", "ingest", "--db", target, "--quiet", str(usb)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + deadline_s
    while proc.poll() is None and time.monotonic() < deadline:
        if _workers_of(proc.pid):
            return proc, time.monotonic()
        time.sleep(POLL_S)
    return proc, None


def _timed_ingest(stallpay: str, target: str, usb: Path) -> float:
    """Seconds from the start of the ingest (workers exist) to the process's exit, for a clean run."""
    proc, began = _start_ingest(stallpay, target, usb)
    if proc.wait() != 0:
        raise RuntimeError(f"clean ingest into {target} failed (rc {proc.returncode})")
    if began is None:
        raise RuntimeError("clean ingest exited before starting its workers: nothing to calibrate the kills on")
    return time.monotonic() - began


def _stored(target: str, expected: int) -> str:
    """What the killed ingest had stored: none, some or all of the entries."""
    store = open_store(target)
    try:
        rows = int(store.scalar("SELECT COUNT(*) FROM entries") or 0)
    finally:
        store.close()
    return "none" if rows == 0 else "all" if rows >= expected else "some"


def _drop_sqlite(target: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)


def _targets(kind: str, tmp: Path, dsn: str | None) -> Iterator[str]:
    n = 0
    while True:
        n += 1
        if kind == "sqlite":
            yield str(tmp / f"c{n}.db")
        else:
            import psycopg

            assert dsn is not None
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA k{n}")
            yield f"{dsn}?options=-csearch_path%3Dk{n}"


def run(kills: int, dsn: str | None, seed: int = 15, *, kinds: tuple[str, ...] | None = None,
        seconds: float | None = None, progress: bool = False) -> dict[str, Any]:
    """`kills` per database kind (SQLite always, PostgreSQL when `dsn` is given; or the `kinds` named); `seconds`:
    stop early, the report says how many kills ran."""
    rng = random.Random(seed)
    started = time.monotonic()
    stallpay = str(Path(sys.executable).with_name("stallpay"))
    report: dict[str, Any] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="campaign-collector-") as tmp_name:
        tmp = Path(tmp_name)
        terms = make_usb(tmp)
        usb = tmp / "usb"
        for kind in kinds or (("sqlite", "postgresql") if dsn else ("sqlite",)):
            targets = _targets(kind, tmp, dsn)
            clean = next(targets)
            _new_db(clean, terms)
            calibration = [_timed_ingest(stallpay, clean, usb)]
            expected = outcome(clean)
            for _ in range(CALIBRATION_RUNS - 1):
                spare = next(targets)
                _new_db(spare, terms)
                calibration.append(_timed_ingest(stallpay, spare, usb))
                if kind == "sqlite":
                    _drop_sqlite(spare)
            recent = deque(calibration, maxlen=RECENT)
            if {card for card, _ in expected["anomalies"]} != INTENDED:
                failures.append(f"{kind} clean run: anomalies {expected['anomalies']}, only cards "
                                f"{sorted(INTENDED)} were made to show one")
            counts = {"kills": 0, "finished_first": 0, "orphans": 0, "slow_exits": 0, "mismatches": 0}
            stored_at_kill = {"none": 0, "some": 0, "all": 0}
            exit_s = 0.0
            i = 0
            while counts["kills"] < kills and i < 3 * kills and (seconds is None
                                                                 or time.monotonic() - started < seconds):
                i += 1
                if progress and i % 10 == 0:
                    print(f"collector crashes {kind}: {counts} ({time.monotonic() - started:.0f} s)", file=sys.stderr,
                          flush=True)
                target = next(targets)
                _new_db(target, terms)
                proc, began = _start_ingest(stallpay, target, usb)
                if began is not None:
                    time.sleep(max(0.0, began + rng.uniform(0, min(recent)) - time.monotonic()))
                workers = _children(proc.pid)
                late: list[int] = []
                killed = proc.poll() is None
                if killed:
                    proc.send_signal(signal.SIGKILL)
                    counts["kills"] += 1
                else:
                    counts["finished_first"] += 1
                    if began is not None:  # it took at most this long: the next kills come sooner
                        recent.append(time.monotonic() - began)
                proc.wait()
                # a worker still starting (importing, at low priority on a busy machine) checks its parent only
                # once it runs: slow exits are counted apart; a worker alive after ORPHAN_S has outlived the ingest
                killed_at = time.monotonic()
                while any(_alive(w) for w in workers) and time.monotonic() - killed_at < ORPHAN_S:
                    time.sleep(0.05)
                    if time.monotonic() - killed_at > 10 and not late:
                        late = [w for w in workers if _alive(w)]
                counts["slow_exits"] += len(late)
                exit_s = max(exit_s, time.monotonic() - killed_at if workers else 0.0)
                orphans = [w for w in workers if _alive(w)]
                if orphans:
                    counts["orphans"] += len(orphans)
                    failures.append(f"{kind} kill {i}: workers {orphans} outlived the ingest")
                    for w in orphans:
                        os.kill(w, signal.SIGKILL)
                if killed:  # after the workers are gone: opening the store does not delay their count
                    stored_at_kill[_stored(target, expected["stored_rows"])] += 1
                rerun = subprocess.run([stallpay, "collector", "ingest", "--db", target, "--quiet", str(usb)],
                                       capture_output=True, text=True)
                got = outcome(target)
                if rerun.returncode != 0 or got != expected:
                    counts["mismatches"] += 1
                    failures.append(f"{kind} kill {i}: rc {rerun.returncode} {rerun.stderr[-300:]} {got} != "
                                    f"{expected}")
                if kind == "sqlite":
                    _drop_sqlite(target)
            report[kind] = {**counts, "runs": i, "kill_ratio": round(counts["kills"] / i, 3) if i else 0.0,
                            "stored_at_kill": stored_at_kill, "workers_gone_within_s": round(exit_s, 1),
                            "ingest_window_s": {"first": round(min(calibration), 3), "last": round(min(recent), 3)},
                            "calibration_s": [round(c, 3) for c in calibration], "clean_run": {
                "entries": expected["entries"], "anomalies": len(expected["anomalies"]),
                "hotlist": len(expected["hotlist"]), "books_balance": expected["books_balance"],
                "anomaly_kinds": sorted({f"card {c}: {k}" for c, k in expected["anomalies"]})}}
    return {**report, "failures": len(failures), "failure_samples": failures[:5],
            "seconds": round(time.monotonic() - started, 1)}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5, None)))
