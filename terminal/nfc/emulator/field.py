"""What every emulated card shares with the reader's RF field: a tap resets its session, taken away it is gone."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from terminal.nfc.errors import CardRemoved


class InField:
    """Field presence of an emulated card. Subclasses define `_reset_session` (what a field reset clears)."""

    _lock: threading.Lock
    in_field: bool
    _tear_in: int | None
    commands: int
    backing: Path | None = None  # state file written through on every change (`write_through`)

    def snapshot(self) -> bytes:
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> None:
        raise NotImplementedError

    def write_through(self, path: str | os.PathLike[str]) -> None:
        """Persist to `path` now and after every command that changes the chip, before its answer goes back:
        like a real tag's EEPROM, a write is on the card before the terminal can journal it, whatever happens to
        the process afterwards."""
        self.backing = Path(path)
        self.save(self.backing)

    def transmit(self, apdu: bytes) -> bytes:
        """Answer one APDU as a reader with this card on it would; raises CardRemoved once torn/removed. A change
        reaches the backing file before the answer goes back."""
        with self._lock:
            return self._written_through(bytes(apdu), self._exchange)

    def _exchange(self, apdu: bytes) -> bytes:
        if not self.in_field:
            raise CardRemoved("card left the field")
        if self._tears_on(apdu) and self._tear_due():
            self._tear_effect(apdu)
            self._torn_away()
        answer = self._dispatch(apdu)
        self.commands += 1
        return answer

    def _tears_on(self, apdu: bytes) -> bool:
        """Whether `apdu` counts towards an armed tear (every command by default)."""
        return True

    def _tear_effect(self, apdu: bytes) -> None:
        """What the command during which the card leaves has done to the chip (nothing by default)."""

    def _dispatch(self, apdu: bytes) -> bytes:
        raise NotImplementedError

    def _written_through(self, apdu: bytes, run: Callable[[bytes], bytes]) -> bytes:
        """`run(apdu)`, then the card saved to its backing file if the command changed it (torn ones included)."""
        before = self.snapshot() if self.backing is not None else None
        try:
            return run(apdu)
        finally:
            if before is not None and self.backing is not None and self.snapshot() != before:
                self.save(self.backing)

    def _reset_session(self) -> None:
        raise NotImplementedError

    def power_on(self) -> None:
        """Field reset (a new tap): the card's session starts afresh, in the field."""
        with self._lock:
            self.in_field = True
            self._reset_session()

    def leave_field(self) -> None:
        """The card is taken away: every further command raises CardRemoved until `power_on`."""
        self.in_field = False
        self._reset_session()

    def _arm_tear(self, n_commands: int) -> bool:
        """Count down to a tear at the n-th further command; 0 = gone now. False when nothing is left to arm."""
        if n_commands < 0:
            raise ValueError("n_commands must be >= 0")
        if n_commands == 0:
            self.leave_field()
            return False
        self._tear_in = n_commands
        return True

    def _tear_due(self) -> bool:
        """Count one command down; True when this is the one during which the card leaves."""
        if self._tear_in is None:
            return False
        self._tear_in -= 1
        if self._tear_in:
            return False
        self._tear_in = None
        return True

    def _torn_away(self) -> NoReturn:
        self.in_field = False
        self._reset_session()
        raise CardRemoved("card left the field during the exchange")
