"""Network printers (raw TCP, usually port 9100): one connection per job.

Our own socket code rather than python-escpos' Network printer, so that every
connect, send and status read has a time-out and a dropped connection is an
error the queue can act on instead of a hang.
"""

from __future__ import annotations

import socket

from terminal.printer.transport import PrinterUnavailable, Transport


class NetworkTransport(Transport):
    can_read = True

    def __init__(self, host: str, port: int = 9100, *, timeout: float = 5.0, status_timeout: float = 1.0) -> None:
        self.host, self.port = host, port
        self.timeout = timeout
        self.status_timeout = status_timeout
        self._sock: socket.socket | None = None

    def describe(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def open(self) -> None:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise PrinterUnavailable(f"{self.describe()}: cannot connect: {exc}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise PrinterUnavailable(f"{self.describe()}: not connected")
        return self._sock

    def write(self, data: bytes, label: str = "") -> None:
        sock = self._socket()
        sock.settimeout(self.timeout)
        try:
            sock.sendall(data)
        except OSError as exc:
            raise PrinterUnavailable(f"{self.describe()}: connection lost while sending: {exc}") from None

    def read(self, size: int, timeout: float) -> bytes:
        sock = self._socket()
        sock.settimeout(timeout)
        try:
            data = sock.recv(size)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise PrinterUnavailable(f"{self.describe()}: connection lost: {exc}") from None
        if not data:
            raise PrinterUnavailable(f"{self.describe()}: printer closed the connection")
        return data

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
