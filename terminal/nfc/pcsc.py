"""The PC/SC reader backend: a real reader (ACR122U, ACR1252U, ...) or vpcd, through pcscd and pyscard.

Uses pyscard's raw `smartcard.scard` API rather than its higher-level classes because a terminal has to wait
for a tap without polling (SCardGetStatusChange blocks in pcscd until the slot changes), has to hold the card
alone while a sale writes it (SCARD_SHARE_EXCLUSIVE), and has to outlive pcscd and the reader: a stand's
reader gets unplugged and pcscd gets restarted by the system, and the till must not need a restart for that.
So the PC/SC context is dropped whenever pcscd says it is stale and made again on the next call; while the
reader or pcscd is away every call raises `ReaderError` naming the reader.
"""

from __future__ import annotations

import contextlib
import fnmatch
import threading
import time
from typing import Any

from smartcard import scard

from terminal.nfc.errors import CardRemoved
from terminal.nfc.reader import NoCard, Reader, ReaderError

_MASK = 0xFFFFFFFF
_STATE_FLAGS = 0xFFFF  # pcsc-lite keeps an event counter in the high 16 bits of the reader state

# pcscd went away (stopped, restarted) or the context/handle belongs to a pcscd that no longer exists.
_SERVICE_GONE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}
# The reader itself went away (unplugged) while pcscd stays up.
_READER_GONE = {scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE}
# The card left the field, or stopped answering, in the middle of an exchange.
_CARD_GONE = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
    scard.SCARD_E_NOT_TRANSACTED,
    scard.SCARD_F_COMM_ERROR,
}
_PNP_NOTIFICATION = "\\\\?PnP?\\Notification"


def _code(hresult: int) -> int:
    return hresult & _MASK


def _message(hresult: int) -> str:
    return f"{scard.SCardGetErrorMessage(hresult).rstrip('. ')} (0x{_code(hresult):08X})"


class ReaderLost(ReaderError, CardRemoved):
    """The reader (or pcscd) went away in the middle of an exchange.

    It is both a `ReaderError` (tell the operator to check the reader) and a `CardRemoved` (the wallet treats the
    exchange as torn and resolves it at the next tap).
    """


def match_reader(pattern: str, names: list[str]) -> str | None:
    """Pick a reader: the exact name; else the first whose name contains `pattern` ignoring case (shell wildcards
    `*?[` allowed); an empty pattern takes the first reader."""
    if not names:
        return None
    if not pattern:
        return names[0]
    if pattern in names:
        return pattern
    wanted = pattern.casefold()
    glob = wanted if any(c in wanted for c in "*?[") else f"*{wanted}*"
    return next((name for name in names if fnmatch.fnmatchcase(name.casefold(), glob)), None)


class PcscConnection:
    """An exclusive connection to the card in a PC/SC reader."""

    def __init__(self, reader: PcscReader, handle: int, protocol: int, atr: bytes) -> None:
        self._reader = reader
        self._handle: int | None = handle
        self._protocol = protocol
        self.atr = atr
        self.reader_name = reader.name

    def transmit(self, apdu: bytes) -> bytes:
        """Send a command APDU; the response includes SW1 SW2.

        Raises `CardRemoved` when the card left the field, `ReaderLost` when the reader or pcscd went away.
        """
        if self._handle is None:
            raise CardRemoved(f"the connection to the card in {self.reader_name!r} is closed")
        hresult, response = scard.SCardTransmit(self._handle, self._protocol, list(apdu))
        code = _code(hresult)
        if code == scard.SCARD_S_SUCCESS and len(response) >= 2:
            return bytes(response)
        if code not in _SERVICE_GONE and code not in _READER_GONE:
            # A dying pcscd first shows as a failed exchange: ask once more to tell "card left" from "pcscd left".
            status = _code(scard.SCardStatus(self._handle)[0])
            if status in _SERVICE_GONE or status in _READER_GONE:
                hresult, code = status, status
        self.close()
        if code == scard.SCARD_S_SUCCESS or code in _CARD_GONE:
            # vpcd answers a vanished card with an empty response; a real response always has SW1 SW2.
            raise CardRemoved(f"the card left {self.reader_name!r}")
        if code in _SERVICE_GONE or code in _READER_GONE:
            self._reader._forget_context(hresult)
            raise ReaderLost(f"reader {self.reader_name!r} went away during an exchange: {_message(hresult)}")
        raise CardRemoved(f"exchange with the card in {self.reader_name!r} failed: {_message(hresult)}")

    def close(self) -> None:
        """Let go of the card (left as it is: no reset, so a re-tap is not needed to continue)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)  # fails harmlessly if the card/pcscd is gone

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcscReader(Reader):
    """A PC/SC reader chosen by exact name, case-insensitive pattern, or (empty) the first one pcscd lists."""

    def __init__(self, name: str = "") -> None:
        self.pattern = name
        self._resolved: str | None = None
        self._context: int | None = None
        self._lock = threading.Lock()  # guards _context; pcscd calls themselves run unlocked so close() can cancel
        self._closed = False
        # Not there yet is fine: every wait names the problem; the till may start before the reader is plugged.
        with contextlib.suppress(ReaderError):
            self._resolve()

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._resolved or self.pattern or "first PC/SC reader"

    # --- context and reader lookup -------------------------------------------------------------------------------

    def _ensure_context(self) -> int:
        with self._lock:
            if self._closed:
                raise ReaderError(f"reader {self.name!r} is closed")
            if self._context is not None:
                return self._context
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if _code(hresult) != scard.SCARD_S_SUCCESS:
                raise ReaderError(f"reader {self.name!r}: pcscd is not available ({_message(hresult)})")
            self._context = context
            return context

    def _forget_context(self, hresult: int | None = None) -> None:
        """Drop a context that pcscd no longer knows (after a restart) so the next call makes a fresh one."""
        if hresult is not None and _code(hresult) not in _SERVICE_GONE:
            return
        with self._lock:
            context, self._context = self._context, None
        if context is not None:
            scard.SCardReleaseContext(context)

    def _fail(self, hresult: int, doing: str) -> ReaderError:
        code = _code(hresult)
        if code in _SERVICE_GONE:
            self._forget_context()
            if code == scard.SCARD_E_NO_READERS_AVAILABLE:
                return ReaderError(f"reader {self.name!r} is not connected (no PC/SC readers at all)")
            return ReaderError(f"reader {self.name!r}: pcscd stopped while {doing} ({_message(hresult)})")
        if code in _READER_GONE:
            return ReaderError(f"reader {self.name!r} was unplugged while {doing}")
        if code == scard.SCARD_E_CANCELLED:
            return ReaderError(f"reader {self.name!r} was closed while {doing}")
        return ReaderError(f"reader {self.name!r}: {doing} failed: {_message(hresult)}")

    def list_readers(self) -> list[str]:
        """Names pcscd currently lists (empty when there is none).

        A context left over from a pcscd that was restarted is replaced once, so the first call after the
        restart already works.
        """
        for fresh in (self._context is None, True):
            context = self._ensure_context()
            hresult, names = scard.SCardListReaders(context, [])
            code = _code(hresult)
            if code == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if code == scard.SCARD_S_SUCCESS:
                return list(names)
            if fresh or code not in _SERVICE_GONE:
                break
            self._forget_context()
        raise self._fail(hresult, "listing readers")

    def _resolve(self) -> str:
        names = self.list_readers()
        found = match_reader(self.pattern, names)
        if found is None:
            listed = ", ".join(repr(n) for n in names) or "none"
            what = f"reader matching {self.pattern!r}" if self.pattern else "PC/SC reader"
            raise ReaderError(f"no {what} is connected (pcscd lists: {listed})")
        self._resolved = found
        return found

    def _status(self, reader: str, current: int, timeout: float | None, doing: str) -> tuple[int, bytes] | None:
        """One SCardGetStatusChange: the reader's new (state, ATR), or None on time-out."""
        context = self._ensure_context()
        millis = scard.INFINITE if timeout is None else max(0, int(timeout * 1000))
        hresult, states = scard.SCardGetStatusChange(context, millis, [(reader, current)])
        code = _code(hresult)
        if code == scard.SCARD_E_TIMEOUT:
            return None
        if code != scard.SCARD_S_SUCCESS:
            raise self._fail(hresult, doing)
        _, state, atr = states[0]
        if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            raise ReaderError(f"reader {reader!r} was unplugged while {doing}")
        return state, bytes(atr)

    # --- Reader interface -----------------------------------------------------------------------------------------

    def wait_for_card(self, timeout: float | None = None) -> PcscConnection:
        """Wait for a card and connect to it exclusively.

        A card already in the field is taken at once. Raises `NoCard` after `timeout` seconds, `ReaderError` when
        the reader or pcscd is not there (or goes away while waiting) or another program holds the card.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        reader = self._resolve()
        current = scard.SCARD_STATE_UNAWARE  # first call answers at once with the slot's state
        while True:
            wait: float | None = 0
            if current != scard.SCARD_STATE_UNAWARE:
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    raise NoCard(f"no card on {reader!r} within {timeout:g} s")
            got = self._status(reader, current, wait, "waiting for a card")
            if got is None:
                continue
            current = got[0]
            flags = current & _STATE_FLAGS
            if flags & scard.SCARD_STATE_PRESENT and not flags & scard.SCARD_STATE_MUTE:
                connection = self._connect(reader)
                if connection is not None:
                    return connection

    def _connect(self, reader: str) -> PcscConnection | None:
        context = self._ensure_context()
        hresult, handle, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        )
        code = _code(hresult)
        if code in _CARD_GONE or code == scard.SCARD_W_UNSUPPORTED_CARD:
            return None  # left again before we got it, or mute: keep waiting
        if code == scard.SCARD_E_SHARING_VIOLATION:
            raise ReaderError(f"the card on {reader!r} is held by another program (pcsc_scan, a browser, ...)")
        if code != scard.SCARD_S_SUCCESS:
            raise self._fail(hresult, "connecting to the card")
        hresult, _, _, _, atr = scard.SCardStatus(handle)
        if _code(hresult) != scard.SCARD_S_SUCCESS:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            return None
        return PcscConnection(self, handle, protocol, bytes(atr))

    def wait_for_removal(self, timeout: float | None = None) -> bool:
        """Wait until the reader is empty: True once it is, False after `timeout` seconds with the card still there."""
        deadline = None if timeout is None else time.monotonic() + timeout
        reader = self._resolve()
        current = scard.SCARD_STATE_UNAWARE
        while True:
            wait: float | None = 0
            if current != scard.SCARD_STATE_UNAWARE:
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    return False
            got = self._status(reader, current, wait, "waiting for the card to leave")
            if got is not None:
                current = got[0]
                if current & scard.SCARD_STATE_EMPTY:
                    return True

    def wait_for_reader(self, timeout: float | None = None) -> bool:
        """Wait (without polling) until a reader matching the pattern is listed; False after `timeout` seconds.

        Needs pcscd: while pcscd itself is down this raises `ReaderError` like every other call.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        current = scard.SCARD_STATE_UNAWARE
        while True:
            try:
                self._resolve()
                return True
            except ReaderError:
                if self._context is None:
                    raise  # pcscd itself is away
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            context = self._ensure_context()
            millis = scard.INFINITE if remaining is None else max(1, int(remaining * 1000))
            hresult, states = scard.SCardGetStatusChange(context, millis, [(_PNP_NOTIFICATION, current)])
            code = _code(hresult)
            if code == scard.SCARD_S_SUCCESS:
                current = states[0][1]
            elif code != scard.SCARD_E_TIMEOUT:
                raise self._fail(hresult, "waiting for the reader")

    def close(self) -> None:
        """Release the PC/SC context; a wait in another thread ends with `ReaderError`."""
        with self._lock:
            self._closed = True
            context, self._context = self._context, None
        if context is not None:
            scard.SCardCancel(context)
            scard.SCardReleaseContext(context)

    def __repr__(self) -> str:
        return f"PcscReader({self.name!r})"

    def __enter__(self) -> PcscReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
