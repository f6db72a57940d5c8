"""A collector ingest killed at its worst moment: the re-run reconciles as a clean run would, and no worker
process outlives the killed ingest (issue 15)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync.collector.ingest import ingest_paths
from sync.collector.ledger import hotlist
from sync.collector.storage import open_store
from sync.format.batch import encode
from sync.format.keys import public_hex
from terminal.cli import main
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, make_terminal


def _usb_with_fraud(tmp_path: Path, db: str) -> Path:
    """Two terminals' batches on a stick: a cloned card spent twice and a rolled-back one (anomalies, hotlist)."""
    cards = Cards()
    t1, t2 = make_terminal(tmp_path, 1, cards), make_terminal(tmp_path, 2, cards)
    t1.book("issue", 5, 5000, method="cash")
    t1.book("sale", 5, 1000)
    t2.book("sale", 5, 2000, card_seq=2, balance_before=5000)
    t1.book("issue", 6, 5000, method="cash")
    t1.book("sale", 6, 1000)
    t1.book("sale", 6, 1000)
    t1.book("sale", 6, 500, card_seq=2, balance_before=5000)
    usb = tmp_path / "usb"
    usb.mkdir()
    for t in (t1, t2):
        assert main(["collector", "enroll", "--db", db, "--terminal", str(t.terminal_id), "--public-key",
                     public_hex(t.key)]) == 0
        for b in batches(t.journal, t.key):
            (usb / b.filename()).write_bytes(encode(b))
    return usb


def _outcome(db: str) -> tuple[list, list]:
    store = open_store(db)
    try:
        kinds = sorted((r["card_id"], r["kind"]) for r in store.query("SELECT card_id, kind FROM anomalies"))
        return kinds, hotlist(store)
    finally:
        store.close()


def test_rerun_after_a_kill_between_commit_and_reconcile_reconciles(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    clean, killed = str(tmp_path / "clean.db"), str(tmp_path / "killed.db")
    for db in (clean, killed):
        assert main(["collector", "init", "--db", db, "--event-id", EVENT]) == 0
    usb = _usb_with_fraud(tmp_path / "terms", clean)
    store = open_store(killed)
    for r in open_store(clean).query("SELECT terminal_id, public_key FROM terminals"):
        assert main(["collector", "enroll", "--db", killed, "--terminal", str(r["terminal_id"]),
                     "--public-key", r["public_key"]]) == 0
    assert main(["collector", "ingest", "--db", clean, str(usb)]) == 0
    # what a SIGKILL right after the commit leaves: entries stored, nothing reconciled
    results = ingest_paths(store, [usb], workers=0)
    assert all(r.status == "stored" for r in results)
    store.close()
    capsys.readouterr()
    assert main(["collector", "ingest", "--db", killed, str(usb)]) == 0  # the re-run sees only duplicates
    out = json.loads(capsys.readouterr().out)
    assert out["duplicate"] == len(results) and out["anomalies"]
    expected = _outcome(clean)
    assert expected[0] and expected[1]  # the scenario does produce anomalies and hotlist entries
    assert _outcome(killed) == expected


_SLOW_INGEST = """
import multiprocessing, os, sys, time
from sync.collector.prepared_stream import prepared_stream
fifo = sys.argv[1]  # a batch file nobody writes: a worker opening it waits there, as on a stalled USB stick
os.mkfifo(fifo)
items = [(fifo, None) for i in range(64)]
stream = prepared_stream(items, 2, False)
next(stream)
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_workers_exit_when_the_ingest_is_killed(tmp_path: Path) -> None:
    """Both workers are busy (each waits to read a batch) when the collector is killed: they die with it. Batches
    that were missing files instead let the workers finish their share and exit before the kill, now and then."""
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_INGEST, str(tmp_path / "stalled.spb")],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in workers)
    finally:
        proc.kill()


_BOTH_WAYS = """
import json, threading, time
from bench.ingest import synth
from sync.collector.prepared_stream import prepared_stream, start_method
_keys, blobs, _rows = synth(2000, 2, batch_size=100)
items = [(f"b{i}", b) for i, b in enumerate(blobs)]
def run():
    return [(p.source, p.count, p.error, p.copy) for p in prepared_stream(items, 2, True) if p is not None]
alone = (start_method(), run())
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()  # as in collector serve
busy = (start_method(), run())
print(json.dumps([alone[0], busy[0], alone[1] == busy[1], len(alone[1]), sum(c for _s, c, _e, _p in alone[1])]))
"""


def test_workers_fork_only_from_a_lone_thread_and_prepare_the_same_either_way() -> None:
    """`collector ingest` (one thread) forks its workers; a process with another thread spawns them, since a
    forked child would inherit that thread's locks held forever. Both prepare the same batches."""
    out = subprocess.run([sys.executable, "-c", _BOTH_WAYS], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert json.loads(out.stdout) == ["fork", "spawn", True, 20, 2000]
