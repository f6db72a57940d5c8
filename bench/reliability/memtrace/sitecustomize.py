"""Memory tracing for the soak (`bench/campaign.py --only soak --trace-memory`), loaded into the kiosk process by
putting this folder first on its PYTHONPATH: Python imports `sitecustomize` at start-up. With
STALLPAY_MEMTRACE_DIR set, tracemalloc records allocations (STALLPAY_MEMTRACE_FRAMES frames each) and SIGUSR1
writes a snapshot there (`snapshot-<n>.pickle`, written under another name and then renamed, so a reader never
sees half a file). Not part of the product: the kiosk itself has no such hook."""

from __future__ import annotations

import itertools
import os
import signal
import tracemalloc

_DIR = os.environ.get("STALLPAY_MEMTRACE_DIR")
if _DIR:
    _numbers = itertools.count(1)

    def _dump(_signum: int, _frame: object) -> None:
        n = next(_numbers)
        path = os.path.join(_DIR, f"snapshot-{n}.pickle")
        snapshot = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
        snapshot.dump(path + ".part")
        os.replace(path + ".part", path)

    tracemalloc.start(int(os.environ.get("STALLPAY_MEMTRACE_FRAMES", "6")))
    signal.signal(signal.SIGUSR1, _dump)
