"""The card loop outlives whatever showing the reader's state does: at shutdown the kiosk's state reads databases
already closed, and the exception killed the loop thread (CI: PytestUnhandledThreadExceptionWarning)."""

from __future__ import annotations

import logging
import threading

from terminal.cardloop import CardLoop
from terminal.nfc.emulated import EmulatedReader


class _Caught(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "could not be shown" in record.getMessage() and record.exc_info:
            self.seen.set()


def test_a_failing_reader_state_callback_does_not_end_the_loop() -> None:
    reader = EmulatedReader()
    shown: list[tuple[bool, str]] = []

    def on_reader(ok: bool, message: str) -> None:
        shown.append((ok, message))
        raise RuntimeError("closed database")

    caught = _Caught()
    logger = logging.getLogger("terminal.cardloop")
    logger.addHandler(caught)
    loop = CardLoop(reader, lambda tag: None, identify=lambda c: c, on_reader=on_reader).start()
    try:
        reader.close()  # the next wait raises ReaderError: the loop reports the reader as gone
        assert caught.seen.wait(5)  # the callback's exception was caught and logged inside the loop
        assert shown[0][0] is False and "closed" in shown[0][1]
        assert loop.alive  # still running: the watchdog sees a live loop
    finally:
        loop.stop()
        logger.removeHandler(caught)
    assert not loop.alive
