"""A daemon thread that runs one job now and then every `interval_s` until stopped; a failing round is logged and
retried at the next one, so a purge never stops the terminal or the collector that runs it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, job: Callable[[], None], interval_s: float, name: str,
                 cleanup: Callable[[], None] | None = None) -> None:
        self.job = job
        self.interval_s = interval_s
        self.cleanup = cleanup
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    self.job()
                except Exception as exc:
                    log.warning("%s failed: %s", self._thread.name, exc)
                if self._stop.wait(self.interval_s):
                    return
        finally:
            if self.cleanup is not None:
                self.cleanup()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
