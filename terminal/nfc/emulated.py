"""In-process reader backend: emulated cards placed on and taken off a virtual reader.

A first-class backend with test helpers (`place`, `remove`), like gpiozero's
mock pins: the driver talks to it through the same `Connection` it gets from
pcscd. Waiting uses a condition variable, so tests never sleep.
"""

from __future__ import annotations

import threading

from terminal.nfc.emulator.ntag import EmulatedCard
from terminal.nfc.errors import CardRemoved
from terminal.nfc.reader import Connection, NoCard, Reader, ReaderError


class EmulatedConnection:
    """Exclusive connection to the emulated card on the reader; counts APDUs in `transmits`."""

    def __init__(self, reader: EmulatedReader, card: EmulatedCard) -> None:
        self._reader = reader
        self._card = card
        self.atr = card.atr
        self.transmits = 0
        self._open = True

    def transmit(self, apdu: bytes) -> bytes:
        if not self._open:
            raise ReaderError(f"{self._reader.name}: connection already closed")
        if self._reader.card is not self._card:
            raise CardRemoved("card left the field")
        self.transmits += 1
        try:
            return self._card.transmit(bytes(apdu))
        except CardRemoved:
            self._reader._card_left(self._card)
            raise

    def close(self) -> None:
        if self._open:
            self._open = False
            self._reader._release(self)


class EmulatedReader(Reader):
    """A reader with at most one emulated card in its field."""

    def __init__(self, name: str = "StallPay Emulated Reader") -> None:
        self.name = name
        self._cond = threading.Condition()
        self._card: EmulatedCard | None = None
        self._connection: EmulatedConnection | None = None
        self._closed = False

    @property
    def card(self) -> EmulatedCard | None:
        return self._card

    def place(self, card: EmulatedCard) -> None:
        """Put a card in the field (a tap): the card gets a field reset."""
        with self._cond:
            self._check_open()
            card.power_on()
            self._card = card
            self._cond.notify_all()

    def remove(self) -> None:
        """Take the card away; an open connection sees CardRemoved on its next APDU."""
        with self._cond:
            card = self._card
            if card is not None and hasattr(card, "leave_field"):
                card.leave_field()
            self._card = None
            self._connection = None  # a connection dies with its card
            self._cond.notify_all()

    def wait_for_card(self, timeout: float | None = None) -> Connection:
        with self._cond:
            self._check_open()
            if not self._cond.wait_for(lambda: self._card is not None or self._closed, timeout):
                raise NoCard(f"{self.name}: no card presented")
            self._check_open()
            if self._connection is not None:
                raise ReaderError(f"{self.name}: card already in use by another connection")
            assert self._card is not None
            self._connection = EmulatedConnection(self, self._card)
            return self._connection

    def wait_for_removal(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._card is None or self._closed, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._connection = None
            self._cond.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise ReaderError(f"{self.name}: reader closed")

    def _card_left(self, card: EmulatedCard) -> None:
        with self._cond:
            if self._card is card:
                self._card = None
                self._connection = None
                self._cond.notify_all()

    def _release(self, connection: EmulatedConnection) -> None:
        with self._cond:
            if self._connection is connection:
                self._connection = None
