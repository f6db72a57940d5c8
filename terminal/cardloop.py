"""The card loop: one thread waits for taps and hands each card to the kiosk.

It holds the reader and nothing else. A card handled once is not handled
again until it has left the field, so a wristband resting on the reader can
never pay twice; reader trouble (unplugged, pcscd down) is reported and
retried, not fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from terminal.nfc.reader import NoCard, Reader, ReaderError
from terminal.wallet.card import CardError, PurseTag, UnsupportedCard

log = logging.getLogger(__name__)

WAIT_S = 0.5


class CardLoop:
    def __init__(self, reader: Reader, handler: Callable[[PurseTag], None], *,
                 identify: Callable[[Any], PurseTag],
                 on_unsupported: Callable[[str], None] | None = None,
                 on_reader: Callable[[bool, str], None] | None = None) -> None:
        self.reader = reader
        self.handler = handler
        self.identify = identify
        self.on_unsupported = on_unsupported
        self.on_reader = on_reader
        self.handled = 0
        self.reader_ok = True
        self.reader_message = ""
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> CardLoop:
        self._thread = threading.Thread(target=self._run, name="card-loop", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """The loop thread is running (what the systemd watchdog checks)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_handled(self, count: int, timeout: float) -> bool:
        """Block until `count` taps have been handled (the simulator's tap waits for its own)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.handled >= count, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                connection = self.reader.wait_for_card(WAIT_S)
            except NoCard:
                continue
            except ReaderError as exc:
                self._reader_state(False, str(exc))
                self._stop.wait(1.0)
                continue
            self._reader_state(True, "")
            try:
                try:
                    tag = self.identify(connection)
                    self.handler(tag)
                except UnsupportedCard as exc:
                    if self.on_unsupported:
                        self.on_unsupported(str(exc))
                except CardError as exc:
                    log.info("tap not completed: %s", exc)
                except Exception:  # the loop must survive anything a single tap does
                    log.exception("card loop: unexpected error while handling a tap")
            finally:
                connection.close()
                with self._cond:
                    self.handled += 1
                    self._cond.notify_all()
            while not self._stop.is_set():
                try:
                    if self.reader.wait_for_removal(WAIT_S):
                        break
                except ReaderError:
                    break

    def _reader_state(self, ok: bool, message: str) -> None:
        if ok != self.reader_ok or message != self.reader_message:
            self.reader_ok, self.reader_message = ok, message
            if self.on_reader:
                try:
                    self.on_reader(ok, message)
                except Exception:  # as for a tap: the loop outlives what showing the state does (e.g. at shutdown)
                    log.exception("card loop: the reader's state could not be shown")
