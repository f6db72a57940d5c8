"""What a card reader is to the rest of the firmware, and how one is opened.

Two backends implement it: `pcsc` (pyscard through pcscd: an ACR122U on the
Pi, the vpcd virtual reader in CI) and `emulated` (in-process, for unit
tests). Code above this layer never asks which one it got.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Protocol

from terminal.nfc.errors import CardError


class ReaderError(CardError):
    """The reader is absent, unplugged, or pcscd is down; the message names the reader."""


class NoCard(CardError):
    """No card was presented before the timeout."""


class Connection(Protocol):
    """An exclusive connection to the card on a reader: raw APDUs in and out."""

    atr: bytes

    def transmit(self, apdu: bytes) -> bytes:
        """Send one APDU, return the response with its status word; CardRemoved if the card left."""
        ...

    def close(self) -> None: ...


class Reader(ABC):
    """A reader backend. Must override all three methods; `name` names it in messages."""

    name: str

    @abstractmethod
    def wait_for_card(self, timeout: float | None = None) -> Connection:
        """Block until a card is present and return an exclusive connection; NoCard on timeout."""

    @abstractmethod
    def wait_for_removal(self, timeout: float | None = None) -> bool:
        """Block until no card is present; False if one is still there at the timeout."""

    @abstractmethod
    def close(self) -> None:
        """Release the reader."""

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BACKENDS = {
    "emulated": ("terminal.nfc.emulated", "EmulatedReader"),
    "pcsc": ("terminal.nfc.pcsc", "PcscReader"),
}


def open_reader(backend: str, name: str = "") -> Reader:
    """Open the reader of `backend` ("emulated" | "pcsc"); `name` is a reader name or pattern.

    Backends are imported here, lazily, so that a missing pyscard never
    breaks the emulated backend or `stallpay --help`.
    """
    if backend not in BACKENDS:
        raise ReaderError(f"unknown reader backend {backend!r}; use one of {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[backend]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise ReaderError(f"reader backend {backend!r} is not usable: {exc}") from exc
    return cls(name) if name else cls()
