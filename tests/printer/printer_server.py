"""A network receipt printer on 127.0.0.1 for the tests, answering DLE EOT like a real one.

It reads the stream command by command (skipping image data, where a 0x10
0x04 may occur by chance), answers real-time status queries at once, and keeps
what was printed. It can be out of paper, have its cover open, or drop the
connection after a number of bytes.
"""

from __future__ import annotations

import socket
import threading

from tests.printer.escpos_reader import DLE, ESC, GS, Incomplete, command_length


class PrinterServer:
    def __init__(self) -> None:
        self.paper = True
        self.cover_open = False
        self.drop_after: int | None = None  # next connection closes after this many bytes
        self.jobs: list[bytes] = []  # print data of each connection, status queries removed
        self.connections = 0
        self._done = threading.Condition()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                self._handle(conn)

    def status_byte(self, n: int) -> int:
        offline = (not self.paper) or self.cover_open
        if n == 1:
            return 0x12 | (0x08 if offline else 0)
        if n == 2:
            return 0x12 | (0x04 if self.cover_open else 0) | (0x20 if not self.paper else 0)
        if n == 4:
            return 0x12 | (0x6C if not self.paper else 0)
        return 0x12

    def _handle(self, conn: socket.socket) -> None:
        buf = bytearray()
        printed = bytearray()
        pos = 0
        received = 0
        drop_after, self.drop_after = self.drop_after, None
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                if drop_after is not None and received + len(chunk) >= drop_after:
                    printed += chunk[: max(0, drop_after - received)]
                    conn.shutdown(socket.SHUT_RDWR)
                    break
                received += len(chunk)
                buf += chunk
                while pos < len(buf):
                    b = buf[pos]
                    if b in (ESC, GS, DLE):
                        try:
                            n = command_length(bytes(buf), pos)
                        except Incomplete:
                            break
                        if b == DLE:
                            conn.sendall(bytes((self.status_byte(buf[pos + 2]),)))
                        else:
                            printed += buf[pos : pos + n]
                        pos += n
                    else:
                        printed.append(b)
                        pos += 1
        except OSError:
            pass
        with self._done:
            if printed:
                self.jobs.append(bytes(printed))
            self._done.notify_all()

    def wait_jobs(self, count: int, timeout: float = 10.0) -> list[bytes]:
        """The jobs once `count` connections with print data have ended."""
        with self._done:
            self._done.wait_for(lambda: len(self.jobs) >= count, timeout)
            return list(self.jobs)
