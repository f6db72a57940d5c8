"""Batches prepared for ingest in worker processes, in order, while the collector stores the ones before them.

`sync.collector.ingest.ingest_many` consumes the stream: decoding and chain-checking (`prepare`) is CPU work in
Python, so it runs beside the database's own work (the PostgreSQL backend loading COPY, or SQLite's inserts in the
collector's process). A killed collector takes its workers with it (`sync.collector.workers`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from sync.collector.prepared import Prepared, prepare
from sync.collector.workers import exit_with_parent

PARALLEL_FROM = 8  # batches: below this, worker processes cost more than they save
MAX_AHEAD = 256  # batches in flight at most (prepared ahead of the database)
RARE_GC = (50_000, 20, 100)  # gc thresholds while batches are prepared and stored in bulk


def default_workers() -> int:
    """Batch workers for this machine: one per core but one, which the database keeps (the PostgreSQL backend
    loading COPY, or SQLite's inserts in this process). On two cores one worker ingested 200 000 entries in
    1.74 s where two took 1.84-1.91 s: the second only took turns with the database."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


@contextlib.contextmanager
def collecting_rarely(batches: int) -> Iterator[None]:
    """The collector's own process while it stores many batches: cyclic garbage collected rarely, as in the
    workers. Its rows are acyclic tuples freed by reference counting, and each pass of the default thresholds
    walked them again: 0.07-0.1 s per 200,000 entries of the process that feeds SQLite, the bottleneck there."""
    if batches < PARALLEL_FROM:
        yield
        return
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], RARE_GC[0]), *RARE_GC[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def start_method() -> str:
    """How workers start: "fork" when this process runs one thread (`collector ingest`), "spawn" otherwise.

    A forked worker is up in milliseconds with every module imported; a spawned one starts an interpreter and
    imports them again (0.1-0.2 s of both cores, at the start of every bulk ingest: 0.15 s of 1.6 for 200,000
    entries on PostgreSQL). Forking is safe only with no other thread: one holding a lock (logging, an HTTP
    server's) would leave it held forever in the child, so `collector serve` and anything with a thread of its
    own, Python's or a C library's, spawns. The child never touches the database connections it inherits: it
    only runs `prepare`, holds no lock, and ends with `os._exit`, which closes no connection and sends nothing."""
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: no way to count a C library's threads
        return "spawn"
    return "fork" if threads == 1 else "spawn"


def _worker_init(parent: int) -> None:
    """A batch worker: exits with the collector; yields the CPU to the process feeding the database (SQLite's
    bottleneck; on PostgreSQL, where the worker is the slower side, nice 0 and 5 measured the same); collects
    cyclic garbage rarely. A prepared batch is thousands of acyclic containers
    (decoded JSON, rows) freed by reference counting, which the default thresholds made the collector scan over
    and over for nothing (3-8 % of a worker's time)."""
    exit_with_parent(parent)
    with contextlib.suppress(OSError):
        os.nice(5)
    gc.freeze()  # the imported modules: never garbage
    gc.set_threshold(*RARE_GC)


def prepared_stream(items: list[tuple[str, bytes | None]], workers: int, copy_text: bool,
                     ahead: int = 40_000) -> Iterator[Prepared | None]:
    """Prepare batches in worker processes, in order, with a bounded number in flight (memory stays flat).

    About `ahead` entries are kept in flight (at least two batches per worker, at most `MAX_AHEAD` batches), so
    that the workers keep preparing the next group while the collector loads one into the database. None in the
    stream: the next batch is not ready yet (the caller may store what it holds instead of waiting); another
    batch always follows it."""
    if workers <= 0 or len(items) < PARALLEL_FROM:
        for source, data in items:
            yield prepare(source, data, copy_text)
        return
    ctx = multiprocessing.get_context(start_method())
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(os.getpid(),)) as pool:
        # every worker started now; one of these is done once a worker is up (forked: milliseconds; spawned:
        # a few hundred ms, while this process prepares the first batches itself)
        started = [pool.submit(int) for _ in range(workers)]
        first = 0
        while first < len(items) and not any(f.done() for f in started):  # meanwhile, this process prepares
            yield prepare(*items[first], copy_text)
            first += 1
            if first < len(items):  # None only ever comes before another batch
                yield None
        window: deque[Future] = deque()
        seen_batches = seen_entries = 0
        for source, data in items[first:]:
            window.append(pool.submit(prepare, source, data, copy_text))
            per_batch = seen_entries // seen_batches if seen_batches else 1000
            if len(window) >= min(MAX_AHEAD, max(2 * workers, ahead // max(per_batch, 1))):
                if not window[0].done():
                    yield None
                p = window.popleft().result()
                seen_batches, seen_entries = seen_batches + 1, seen_entries + p.count
                yield p
        while window:
            if not window[0].done():
                yield None
            yield window.popleft().result()
