"""Put an emulated card into the vsmartcard virtual reader (vpcd) so it is seen through the real PC/SC stack.

vpcd is a pcscd driver that listens on a TCP port (35963 for "Virtual PCD 00 00", 35964 for "... 00 01") and
treats whoever connects as the card in its slot. This module is that "whoever": a vicc client that answers
vpcd's messages from an `EmulatedCard`, so pyscard -> pcscd -> vpcd -> our wristband emulator exercises the
same code path as a real ACR122U and a real tag. Being connected means the card is in the field; closing the
socket is the card leaving it, which is also what happens when the emulator tears (raises `CardRemoved`).

Wire protocol (vsmartcard's vpicc): every message in either direction is a 2-byte big-endian length and a
payload. A 1-byte payload from vpcd is a control message (00 power off, 01 power on, 02 reset, 04 send the ATR,
which is answered with the ATR); anything longer is a command APDU, answered with the response APDU.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
from collections.abc import Callable
from typing import Protocol

from terminal.nfc.errors import CardRemoved

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963  # 0x8C7B, CHANNELID of /etc/reader.conf.d/vpcd; slot n listens on DEFAULT_PORT + n

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04

SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"


class VirtualCard(Protocol):
    """What the bridge needs from a card (the `EmulatedCard` protocol of the NFC contract)."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes: ...


class VpcdError(OSError):
    """vpcd could not be reached: pcscd is down or runs without the vsmartcard-vpcd driver."""


def reader_name_for_port(port: int) -> str:
    """The PC/SC name pcscd gives the vpcd slot that listens on `port` (for the stock /etc/reader.conf.d/vpcd)."""
    return f"Virtual PCD 00 {port - DEFAULT_PORT:02d}"


class VpcdBridge:
    """A vicc client in a background thread: `insert(card)` puts a card in the virtual reader, `remove()` takes it out.

    The bridge survives pcscd restarting: while a card is inserted it reconnects to vpcd every `retry_interval`
    seconds (an interruptible wait, so `remove()` and `stop()` act at once). `on_exchange(card)` is called in the
    bridge thread after every APDU the card answered, e.g. to persist its memory.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        retry_interval: float = 0.1,
        on_exchange: Callable[[VirtualCard], None] | None = None,
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"vpcd port must be 1..65535, got {port}")
        self.host = host
        self.port = port
        self.retry_interval = retry_interval
        self.on_exchange = on_exchange
        self.last_error: str | None = None  # why the last connection attempt failed, for messages
        self._cond = threading.Condition()
        self._card: VirtualCard | None = None
        self._attached: VirtualCard | None = None  # card whose connection to vpcd is up
        self._generation = 0  # bumped by insert/remove so the thread notices a new card object
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)

    @property
    def reader_name(self) -> str:
        return reader_name_for_port(self.port)

    @property
    def card(self) -> VirtualCard | None:
        """The card in the reader; None once removed, or once it tore away by itself."""
        with self._cond:
            return self._card

    def start(self) -> VpcdBridge:
        with self._cond:
            if self._thread is not None:
                return self
            if self._wake_r.fileno() == -1:
                raise RuntimeError("a stopped bridge cannot start again: make a new VpcdBridge")
            self._thread = threading.Thread(target=self._run, name=f"vpcd-bridge-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._card = None
        self._wake()
        if thread is not None:
            thread.join(timeout=5)
        with self._cond:
            self._thread = None
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> VpcdBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def insert(self, card: VirtualCard) -> None:
        """Put `card` in the field (replacing any card there). pcscd notices it at its next poll (<= 0.4 s)."""
        with self._cond:
            if self._thread is None:
                raise RuntimeError("start() the bridge before inserting a card")
            self._card = card
            self._generation += 1
        self._wake()

    def remove(self, timeout: float = 5.0) -> None:
        """Take the card out of the field; returns once the connection to vpcd is closed."""
        with self._cond:
            self._card = None
            self._generation += 1
        self._wake()
        with self._cond:
            self._cond.wait_for(lambda: self._attached is None or self._thread is None, timeout)

    def wait_attached(self, timeout: float | None = None) -> bool:
        """Wait until the inserted card is connected to vpcd (pcscd then sees it at its next poll)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._card is not None and self._attached is self._card, timeout)

    # --- bridge thread -----------------------------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # stopped already
            self._wake_w.send(b"x")

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError once empty
            while self._wake_r.recv(256):
                pass

    def _set_attached(self, card: VirtualCard | None) -> None:
        with self._cond:
            self._attached = card
            self._cond.notify_all()

    def _run(self) -> None:
        sock: socket.socket | None = None
        generation = -1
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while True:
                with self._cond:
                    if self._stopping:
                        break
                    card, current = self._card, self._generation
                if sock is not None and (card is None or current != generation):
                    selector.unregister(sock)
                    sock.close()
                    sock = None
                    self._set_attached(None)
                if card is None:
                    selector.select()  # until insert/remove/stop
                    self._drain_wake()
                    continue
                if sock is None:
                    try:
                        sock = socket.create_connection((self.host, self.port), timeout=2.0)
                    except OSError as exc:
                        self.last_error = f"cannot reach vpcd at {self.host}:{self.port}: {exc.strerror or exc}"
                        selector.select(self.retry_interval)  # reconnect later, at once on insert/remove/stop
                        self._drain_wake()
                        continue
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sock.settimeout(5.0)  # for the rest of a message once its first byte arrived
                    selector.register(sock, selectors.EVENT_READ)
                    generation = current
                    self.last_error = None
                    self._set_attached(card)
                    log.debug("card attached to vpcd %s:%d", self.host, self.port)
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        self._drain_wake()
                        continue
                    if not self._serve_one(sock, card):
                        selector.unregister(sock)
                        sock.close()
                        sock = None
                        self._set_attached(None)
                        break
        finally:
            if sock is not None:
                sock.close()
            selector.close()
            self._set_attached(None)

    def _serve_one(self, sock: socket.socket, card: VirtualCard) -> bool:
        """Answer one message from vpcd. False when the connection is over (vpcd went away, or the card tore)."""
        try:
            header = _recv_exact(sock, 2)
            if header is None:
                log.info("vpcd at %s:%d closed the connection (pcscd stopped?)", self.host, self.port)
                return False
            (size,) = struct.unpack("!H", header)
            payload = _recv_exact(sock, size) if size else b""
            if payload is None:
                return False
            answer = self._answer(card, payload)
            if answer is not None:
                sock.sendall(struct.pack("!H", len(answer)) + answer)
            return True
        except CardRemoved:
            log.debug("emulated card left the field")
            with self._cond:
                if self._card is card:
                    self._card = None
                    self._generation += 1
            return False
        except OSError as exc:
            log.info("vpcd connection lost: %s", exc)
            return False

    def _answer(self, card: VirtualCard, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            code = payload[0]
            if code == CTRL_ATR:
                return bytes(card.atr)
            if code in (CTRL_POWER_ON, CTRL_RESET):
                card.power_on()
            elif code != CTRL_POWER_OFF:
                log.warning("unknown vpcd control message %02X", code)
            return None
        try:
            response = bytes(card.transmit(payload))
        except CardRemoved:
            self._after_exchange(card)  # a torn write may have changed the card's memory
            raise
        except Exception:  # a bug in an emulator must not kill the bridge: answer like a confused card
            log.exception("emulated card failed on APDU %s", payload.hex())
            response = SW_NO_PRECISE_DIAGNOSIS
        self._after_exchange(card)
        return response

    def _after_exchange(self, card: VirtualCard) -> None:
        if self.on_exchange is None:
            return
        try:
            self.on_exchange(card)
        except Exception:
            log.exception("on_exchange hook failed")


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        _quick_ack(sock)
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _quick_ack(sock: socket.socket) -> None:
    """ACK at once instead of after the 40 ms delayed-ACK timer.

    vpcd writes a message's length and its body in two send() calls; with Nagle on its side and delayed ACKs on
    ours, every APDU would wait ~40 ms for the body. Linux clears the flag after use, so it is set before each read.
    """
    if hasattr(socket, "TCP_QUICKACK"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
