"""Batches prepared for ingest in worker processes, in order, while the collector stores the ones before them.

`sync.collector.ingest.ingest_many` consumes the stream: decoding and chain-checking (`prepare`) is CPU work in
Python, so it runs beside the database's own work (the PostgreSQL backend loading COPY, or SQLite's inserts in the
collector's process). A killed collector takes its workers with it (`sync.collector.workers`).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection

from sync.collector.prepared import Prepared, prepare
from sync.collector.workers import exit_with_parent

PARALLEL_FROM = 8  # batches: below this, worker processes cost more than they save
MAX_AHEAD = 256  # batches in flight at most (prepared ahead of the database)
RARE_GC = (50_000, 20, 100)  # gc thresholds while batches are prepared and stored in bulk
PIPE_BYTES = 1 << 20  # a forked worker's pipe: a few prepared batches ahead (Linux's default maximum)
AHEAD_PIPES = 16  # forked workers' pipes in all, shared out among them: about 60 batches of 1,000 entries ahead


def pipes_per_worker(workers: int) -> int:
    """Pipes for each of `workers` forked workers: `AHEAD_PIPES` shared out, at least two each (one to write while
    the collector reads the other). The total stays near `AHEAD_PIPES` MiB of kernel buffers, well inside Linux's
    default allowance per user (`fs.pipe-user-pages-soft`, 64 MiB), past which new pipes cannot grow."""
    return max(2, AHEAD_PIPES // max(workers, 1))


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

    A process with one thread forks its workers (`_forked_stream`: each one's pipes hold what is in flight);
    otherwise a pool of spawned workers keeps about `ahead` entries in flight (at least two batches per worker,
    at most `MAX_AHEAD` batches). Either way the workers prepare the next group while the collector loads one
    into the database. None in the stream: the next batch is not ready yet (the caller may store what it holds
    instead of waiting); another batch always follows it. `WorkerFailed`: a worker died or `prepare` raised."""
    if workers <= 0 or len(items) < PARALLEL_FROM:
        for source, data in items:
            yield prepare(source, data, copy_text)
        return
    if start_method() == "fork":
        yield from _forked_stream(items, workers, copy_text)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(os.getpid(),)) as pool:
        # every worker started now; one of these is done once a worker is up (a few hundred ms, while this
        # process prepares the first batches itself)
        started = [pool.submit(int) for _ in range(workers)]
        first = 0
        while first < len(items) and not any(f.done() for f in started):  # meanwhile, this process prepares
            yield prepare(*items[first], copy_text)
            first += 1
            if first < len(items):  # None only ever comes before another batch
                yield None
        window: deque[tuple[str, Future]] = deque()
        seen_batches = seen_entries = 0
        for source, data in items[first:]:
            try:
                window.append((source, pool.submit(prepare, source, data, copy_text)))
            except BrokenProcessPool:  # the next one to yield is the first batch lost with the worker
                raise WorkerFailed(f"the worker preparing {window[0][0] if window else source} ended") from None
            per_batch = seen_entries // seen_batches if seen_batches else 1000
            if len(window) >= min(MAX_AHEAD, max(2 * workers, ahead // max(per_batch, 1))):
                if not window[0][1].done():
                    yield None
                p = _result(*window.popleft())
                seen_batches, seen_entries = seen_batches + 1, seen_entries + p.count
                yield p
        while window:
            if not window[0][1].done():
                yield None
            yield _result(*window.popleft())


def _result(source: str, future: Future) -> Prepared:
    try:
        return future.result()
    except BrokenProcessPool:
        raise WorkerFailed(f"the worker preparing {source} ended") from None
    except Exception as exc:  # as in a forked worker
        raise WorkerFailed(f"preparing {source}: {exc!r}") from None


class WorkerFailed(RuntimeError):
    """A batch worker ended without preparing its batch (killed, out of memory, or an error in `prepare`)."""


def _prepare_share(items: list[tuple[str, bytes | None]], start: int, step: int, copy_text: bool,
                   outs: list[Connection], others: list[Connection], parent: int) -> None:
    """A forked worker: prepares items start, start + step, ... in order and writes them to `outs` in turn (item i
    to `outs[(i // step) % len(outs)]`). The pipes' buffers hold what is ahead: a full pipe pauses the worker until
    the collector reads it. `others`: the collector's ends of all the pipes, closed here so that only the collector
    holds them (a worker stopped by the collector closing its end would otherwise wait on a full pipe for ever)."""
    for other in others:
        other.close()
    _worker_init(parent)
    for out in outs:
        with contextlib.suppress(OSError):  # Linux: room for a few prepared batches in each pipe, not 64 KiB
            fcntl.fcntl(out.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    try:
        for k, i in enumerate(range(start, len(items), step)):
            out = outs[k % len(outs)]
            try:
                blob = pickle.dumps(prepare(*items[i], copy_text), pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # prepare refuses bad input itself: this is a bug or memory, not a batch
                out.send_bytes(pickle.dumps(WorkerFailed(f"preparing {items[i][0]}: {exc!r}")))
                return
            out.send_bytes(blob)
    except BrokenPipeError:  # the collector stopped reading (an error, or the stream was closed): nothing to do
        pass


def _forked_stream(items: list[tuple[str, bytes | None]], workers: int,
                   copy_text: bool) -> Iterator[Prepared | None]:
    """Workers forked with the items in their memory, each writing its share to its own pipes in turn, which this
    process reads in order. Nothing is sent to a worker, and no thread of this process feeds or drains the
    pipes: with a pool's feeder and result threads, the collector's process (SQLite's bottleneck) spent
    0.15-0.2 CPU-s per 200,000 entries in them and waited for their GIL.

    Why `AHEAD_PIPES` pipes: this process reads nothing while it stores a group (on PostgreSQL it waits for the
    server to load it), so a worker keeps preparing only as far as its pipes hold. One pipe held four batches and
    the worker, PostgreSQL's slower side, stopped for part of every group; four pipes ingested 200,000 entries at
    109,000-141,000 entries/s (mean 127,000) where one did 96,000-124,000 (mean 112,000), in 9 alternating pairs.
    Four still held less than one group of 20,000 entries: at 1,000,000 entries one worker with sixteen pipes was
    faster than with four in 10 of 12 alternating runs (median 14 %), eight pipes were between them and 32 no
    faster than sixteen."""
    ctx = multiprocessing.get_context("fork")
    per = pipes_per_worker(workers)
    pipes: list[Connection] = []  # worker w's pipes are pipes[w * per:][:per]
    procs = []
    try:
        for w in range(workers):
            ends = [ctx.Pipe(duplex=False) for _ in range(per)]
            reads = [r for r, _ in ends]
            proc = ctx.Process(target=_prepare_share, name=f"batch-worker-{w}", daemon=True,
                               args=(items, w, workers, copy_text, [wr for _, wr in ends], [*pipes, *reads],
                                     os.getpid()))
            proc.start()
            for _, wr in ends:
                wr.close()
            pipes.extend(reads)
            procs.append(proc)
        # item i is worker w's k-th, written to that worker's pipe k % per
        for i in range(len(items)):
            w, k = i % workers, i // workers
            pipe = pipes[w * per + k % per]
            if not pipe.poll():
                yield None
            try:
                p = pickle.loads(pipe.recv_bytes())
            except EOFError:
                procs[w].join(1)
                raise WorkerFailed(f"the worker preparing {items[i][0]} ended "
                                   f"(exit code {procs[w].exitcode})") from None
            if isinstance(p, WorkerFailed):
                raise p
            yield p
    finally:
        for pipe in pipes:
            pipe.close()
        for proc in procs:
            proc.join(1)
            if proc.is_alive():
                proc.kill()
                proc.join()
