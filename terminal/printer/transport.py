"""What a printer backend must do: take raw bytes, and if it can, answer status queries.

Like python-escpos, everything else is built on sending raw bytes. A backend
*must* implement `open`, `write` and `close`; it *may* implement `read` (set
`can_read`), which enables the DLE EOT real-time status queries the print
queue uses to tell "out of paper" and "cover open" from "not reachable".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

DLE_EOT = b"\x10\x04"
Problem = Literal["paper_out", "cover_open", "offline", "unreachable", "error"]


class PrinterProblem(Exception):
    """The job could not be printed now; it stays in the queue. `problem` says why."""

    problem: Problem = "error"

    def __init__(self, message: str, problem: Problem | None = None) -> None:
        super().__init__(message)
        if problem is not None:
            self.problem = problem


class PrinterUnavailable(PrinterProblem):
    """Unplugged, switched off, busy, or the connection dropped."""

    problem: Problem = "unreachable"


class PrinterNotReady(PrinterProblem):
    """The printer answered, and said it cannot print (paper out, cover open)."""


class NotSupported(Exception):
    """This backend cannot do what was asked (e.g. reading status from a device file)."""


@dataclass(frozen=True)
class PrinterStatus:
    """Decoded DLE EOT answers; None where the printer did not answer."""

    offline: bool | None = None
    cover_open: bool | None = None
    paper_out: bool | None = None
    paper_near_end: bool | None = None
    error: bool | None = None

    @property
    def problem(self) -> Problem | None:
        if self.paper_out:
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if self.error:
            return "error"
        if self.offline:
            return "offline"
        return None


def _valid(answer: bytes) -> int | None:
    """Status bytes have bit 1 and 4 set and bits 0 and 7 clear; anything else is not an answer."""
    if len(answer) != 1 or answer[0] & 0x93 != 0x12:
        return None
    return answer[0]


class Transport(ABC):
    """A connection to one printer, opened for a job and closed after it."""

    format: ClassVar[Literal["escpos", "png"]] = "escpos"
    can_read: ClassVar[bool] = False
    status_timeout: float = 1.0

    @abstractmethod
    def open(self) -> None:
        """Connect; raise PrinterUnavailable with a reason a technician understands."""

    @abstractmethod
    def write(self, data: bytes, label: str = "") -> None:
        """Send all of `data`; raise PrinterUnavailable / PrinterNotReady when that fails."""

    @abstractmethod
    def close(self) -> None:
        """Release the printer so others (CUPS, another process) can use it."""

    def read(self, size: int, timeout: float) -> bytes:
        """Up to `size` bytes the printer sent, b'' after `timeout` seconds of silence."""
        raise NotSupported(f"{self.describe()} cannot read status")

    def describe(self) -> str:
        return type(self).__name__

    def query(self, n: int) -> int | None:
        """Send DLE EOT n and return the status byte, or None if the printer stays silent."""
        self.write(DLE_EOT + bytes((n,)))
        return _valid(self.read(1, self.status_timeout))

    def status(self) -> PrinterStatus | None:
        """Real-time status (DLE EOT 1, 2, 4); None when this backend or printer cannot tell."""
        if not self.can_read:
            return None
        printer = self.query(1)
        if printer is None:
            return None
        offline = bool(printer & 0x08)
        cause = self.query(2) if offline else None
        paper = self.query(4)
        paper_out = None if paper is None else (paper & 0x60) == 0x60
        if cause is not None and cause & 0x20:
            paper_out = True
        return PrinterStatus(
            offline=offline,
            cover_open=None if cause is None else bool(cause & 0x04),
            paper_out=paper_out,
            paper_near_end=None if paper is None else (paper & 0x0C) == 0x0C,
            error=None if cause is None else bool(cause & 0x40),
        )
