"""Uploads decoded and chain-checked in worker processes, so the collector's event loop keeps answering.

Decoding a batch and checking its hash chain is pure Python and holds the GIL for milliseconds per batch; done in
the server's threads, fifty terminals uploading at once delayed `/api/v1/time` by hundreds of milliseconds. Here that
work (`ingest.prepare`: decode, chain and entry checks, the bulk-load payload) runs in a process pool, and so
does reconcile (it re-reads a card's whole history) when the database is a file or a server the workers can open
themselves. The server keeps who sent the batch (one signature over the header) and the exactly-once store in one
transaction. The upload is answered once its cards are reconciled, as before. Workers run at a lower CPU priority
than the server, so on a busy machine the event loop is scheduled first. A killed server takes its workers with it
(`sync.collector.workers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sync.collector.ledger import reconcile_pending
from sync.collector.prepared import Prepared, prepare
from sync.collector.storage import Store, open_store
from sync.collector.workers import exit_with_parent

log = logging.getLogger(__name__)
WORKER_NICE = 5  # batch work yields the CPU to the server's event loop
_stores: dict[str, Store] = {}  # per worker process: its own connection to the collector's database


def _worker_init(parent: int) -> None:
    exit_with_parent(parent)
    with contextlib.suppress(OSError):  # not permitted here: same priority, still correct
        os.nice(WORKER_NICE)


def _reconcile(target: str) -> dict[str, int]:
    store = _stores.get(target)
    if store is None:
        store = _stores[target] = open_store(target, migrate=False)
    return reconcile_pending(store)


class IngestPool:
    """A lazily started pool of `workers` processes preparing uploaded batches; 0 workers prepares in a thread."""

    def __init__(self, workers: int) -> None:
        self.workers = max(0, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._pool is None and self.workers and not self._closed:
                ctx = multiprocessing.get_context("spawn")  # no fork of a process holding connections and threads
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                                 initializer=_worker_init, initargs=(os.getpid(),))
            return self._pool

    def start(self) -> None:
        """Start the workers now (server start-up), so the first upload does not wait for them to import."""
        pool = self._executor()
        if pool is not None:
            for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
                future.result()

    async def prepare(self, source: str, data: bytes, copy_text: bool) -> Prepared:
        loop = asyncio.get_running_loop()
        pool = self._executor()
        if pool is not None:
            try:
                return await loop.run_in_executor(pool, prepare, source, data, copy_text)
            except BrokenProcessPool:  # a worker died (OOM killer, a signal): start afresh, this batch in a thread
                log.warning("ingest worker pool broke; restarting it")
                with self._lock:
                    if self._pool is pool:
                        self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
        return await loop.run_in_executor(None, prepare, source, data, copy_text)

    async def reconcile(self, store: Store, target: str | None) -> None:
        """`reconcile_pending`: in a worker with its own connection to `target` (a path or DSN), else in a thread."""
        pool = self._executor() if target and target != ":memory:" else None
        loop = asyncio.get_running_loop()
        if pool is not None:
            try:
                await loop.run_in_executor(pool, _reconcile, target)
                return
            except BrokenProcessPool:
                log.warning("ingest worker pool broke during reconcile; reconciling here")
        await loop.run_in_executor(None, reconcile_pending, store)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
