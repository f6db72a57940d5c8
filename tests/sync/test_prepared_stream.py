"""The forked batch workers of `collector ingest`: a dead or failing worker stops the ingest with a reason instead
of hanging it or losing batches, and a stream closed early leaves no worker behind.

Each case runs in its own interpreter: workers fork only from a process with one thread, and pytest's may have
more by the time these run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SETUP = """
import json, multiprocessing, os, signal, threading, time
from bench.ingest import synth
from sync.collector import prepared_stream as ps
_keys, blobs, _rows = synth(40_000, 4, batch_size=100)  # about 6 MB prepared: more than the pipes hold
ps.PIPE_BYTES = 1 << 18  # (the workers' 16 pipes at 256 KiB: 4 MiB)
items = [(f"b{i}", b) for i, b in enumerate(blobs)]
"""


def _run(script: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _SETUP + script], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_forked_stream_yields_every_batch_in_order_as_the_collector_prepares_it() -> None:
    got = _run("""
from sync.collector.prepared import prepare
streamed = [(p.source, p.count, p.columns) for p in ps.prepared_stream(items, 2, False) if p is not None]
here = [(p.source, p.count, p.columns) for p in (prepare(s, b, False) for s, b in items)]
print(json.dumps({"same": streamed == here, "n": len(streamed), "entries": sum(c for _s, c, _x in streamed),
                  "left": len(multiprocessing.active_children())}))
""")
    assert got == {"same": True, "n": 400, "entries": 40_000, "left": 0}


@pytest.mark.parametrize("threads", [1, 2], ids=["forked", "spawned"])
def test_a_worker_killed_mid_stream_stops_the_ingest_with_the_batch_it_was_preparing(threads: int) -> None:
    """Forked workers (`collector ingest`) and the spawned pool (a process with threads) end the same way."""
    got = _run(f"""
if {threads} > 1:
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
method = ps.start_method()
stream = ps.prepared_stream(items, 1, False)
first = next(p for p in stream if p is not None)
while not multiprocessing.active_children():  # spawned: the pool is up once it prepared a batch
    time.sleep(0.01)
[worker] = multiprocessing.active_children()
os.kill(worker.pid, signal.SIGKILL)
seen = 1
try:
    for p in stream:
        seen += p is not None
    error = None
except ps.WorkerFailed as exc:
    error = str(exc)
print(json.dumps({{"method": method, "first": first.source, "seen": seen, "error": error,
                  "left": len(multiprocessing.active_children())}}))
""")
    assert got["method"] == ("fork" if threads == 1 else "spawn")
    assert got["first"] == "b0"
    assert 1 <= got["seen"] < 400  # what was prepared before the kill, then the refusal: no batch skipped silently
    ended = f"the worker preparing b{got['seen']} ended"
    assert got["error"] == (f"{ended} (exit code -9)" if threads == 1 else ended)
    assert got["left"] == 0


def test_an_error_inside_a_worker_reaches_the_collector_with_its_reason() -> None:
    got = _run("""
real = ps.prepare
def prepare(source, data, copy_text):
    if source == "b7":
        raise MemoryError("no room for b7")
    return real(source, data, copy_text)
ps.prepare = prepare  # the forked workers inherit it
try:
    seen = [p.source for p in ps.prepared_stream(items, 2, True) if p is not None]
    error = None
except ps.WorkerFailed as exc:
    error = str(exc)
print(json.dumps({"error": error, "left": len(multiprocessing.active_children())}))
""")
    assert got == {"error": "preparing b7: MemoryError('no room for b7')", "left": 0}


def test_a_stream_closed_early_leaves_no_worker_behind() -> None:
    got = _run("""
stream = ps.prepared_stream(items, 2, False)
next(p for p in stream if p is not None)
workers = multiprocessing.active_children()
t0 = time.monotonic()
stream.close()  # the collector stopped: an error in the store, or Ctrl-C
print(json.dumps({"workers": len(workers), "alive": sum(w.is_alive() for w in workers),
                  "close_s": time.monotonic() - t0}))
""")
    assert got["workers"] == 2 and got["alive"] == 0
    assert got["close_s"] < 1  # they saw the closed pipe and ended; none had to be killed after a timeout


def test_collector_ingest_stopped_by_a_failing_worker_says_so_and_its_rerun_stores_the_rest(tmp_path: Path) -> None:
    """The technician's view: one line naming the batch, exit 2; the same command again stores every batch
    exactly once, and the books read as those of a run that was never stopped."""
    got = _run(f"""
import contextlib, io
from pathlib import Path
from sync.collector.enrollment import enroll
from sync.collector.event import init_event
from sync.collector.storage import open_store
from sync.collector.summary import summary
from terminal.cli import main
tmp = Path({str(tmp_path)!r})
usb = tmp / "usb"
usb.mkdir()
for i, b in enumerate(blobs):
    (usb / f"b{{i:03}}.spb").write_bytes(b)
def books(name):
    store = open_store(str(tmp / name))
    init_event(store, "bench-event", "EUR")
    for t, pub in _keys:
        enroll(store, t, pub)
    store.close()
    return str(tmp / name)
def ingest(db):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["collector", "ingest", "--quiet", "--db", db, str(usb)])
    return code, err.getvalue()
clean, stopped = books("clean.db"), books("stopped.db")
assert ingest(clean)[0] == 0
real = ps.prepare
def prepare(source, data, copy_text):
    if source.endswith("b300.spb"):
        raise MemoryError("no room")
    return real(source, data, copy_text)
ps.prepare = prepare
first = ingest(stopped)
stored_then = open_store(stopped).scalar("SELECT COUNT(*) FROM entries")
ps.prepare = real
second = ingest(stopped)
a, b = open_store(clean), open_store(stopped)
print(json.dumps({{"first": first, "stored_then": stored_then, "second": second[0],
                  "entries": b.scalar("SELECT COUNT(*) FROM entries"),
                  "same_books": summary(a) == summary(b)}}))
""")
    code, err = got.pop("first")
    assert code == 2
    assert err == (f"stallpay collector: ingest stopped: preparing {tmp_path}/usb/b300.spb: MemoryError('no room'). "
                   "What was stored stays stored; run the same command again to store the rest\n")
    assert got.pop("stored_then") < 40_000
    assert got == {"second": 0, "entries": 40_000, "same_books": True}


def test_a_worker_keeps_preparing_while_the_collector_stores_a_group() -> None:
    """The collector reads nothing while it stores a group (PostgreSQL: while the server loads it). A worker is then
    held only by what its pipes hold: with one pipe (about four batches of 1,000 entries) the worker, the slower
    side on PostgreSQL, stopped for part of every group, and four pipes still held less than a group. One worker
    gets all `AHEAD_PIPES` of them."""
    got = _run("""
import pickle, tempfile
from sync.collector.prepared import prepare as real
mark = tempfile.NamedTemporaryFile(delete=False).name
def prepare(source, data, copy_text):
    p = real(source, data, copy_text)
    with open(mark, "a") as f:
        f.write(f"{source} {len(pickle.dumps(p, pickle.HIGHEST_PROTOCOL))}\\n")
    return p
ps.prepare = prepare
stream = ps.prepared_stream(items, 1, True)
first = next(p for p in stream if p is not None)
[worker] = multiprocessing.active_children()
deadline = time.monotonic() + 60
while "pipe_write" not in open(f"/proc/{worker.pid}/wchan").read():  # the collector reads nothing: await the
    assert time.monotonic() < deadline, "the worker never waited on a full pipe"  # worker blocked on full pipes
    time.sleep(0.01)
sizes = [int(line.split()[1]) for line in open(mark).read().splitlines()]
stream.close()
print(json.dumps({"first": first.source, "prepared": len(sizes), "ahead_bytes": sum(sizes[1:]),
                  "pipe_bytes": ps.PIPE_BYTES, "left": len(multiprocessing.active_children())}))
""")
    assert got["first"] == "b0" and got["left"] == 0
    # ahead of the collector: what sixteen pipes hold (less what did not fit at the end of each), not four's
    assert got["ahead_bytes"] > 12 * got["pipe_bytes"]


def test_forked_workers_share_out_the_pipes_within_the_users_allowance() -> None:
    from sync.collector import prepared_stream as ps

    shares = {w: ps.pipes_per_worker(w) for w in (1, 2, 3, 7, 8)}
    assert shares == {1: 16, 2: 8, 3: 5, 7: 2, 8: 2}
    soft_limit = 64 << 20  # Linux's default fs.pipe-user-pages-soft (16384 pages)
    assert all(w * n * ps.PIPE_BYTES <= soft_limit // 2 for w, n in shares.items())  # two ingests at once fit
