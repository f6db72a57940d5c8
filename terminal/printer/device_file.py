"""A printer seen as a device file (/dev/usb/lp0 from the usblp driver, or any file).

Write-only: the lp driver gives no reliable way to read DLE EOT answers, but it
does report paper out (ENOSPC) and a busy or vanished device.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from terminal.printer.transport import PrinterNotReady, PrinterUnavailable, Transport


class DeviceFileTransport(Transport):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def describe(self) -> str:
        return f"file://{self.path}"

    def open(self) -> None:
        flags = os.O_WRONLY | (0 if self.path.is_char_device() else os.O_CREAT | os.O_APPEND)
        try:
            self._fd = os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            raise PrinterUnavailable(f"{self.describe()}: no such device (printer unplugged?)") from None
        except OSError as exc:
            raise _problem(self, exc) from None

    def write(self, data: bytes, label: str = "") -> None:
        if self._fd is None:
            raise PrinterUnavailable(f"{self.describe()}: not open")
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            raise _problem(self, exc) from None

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None


def _problem(t: DeviceFileTransport, exc: OSError) -> Exception:
    if exc.errno == errno.ENOSPC:
        return PrinterNotReady(f"{t.describe()}: out of paper", "paper_out")
    if exc.errno == errno.EBUSY:
        return PrinterUnavailable(f"{t.describe()}: device busy (another program is using the printer)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PrinterUnavailable(f"{t.describe()}: permission denied (add the service user to group 'lp')")
    return PrinterUnavailable(f"{t.describe()}: {exc.strerror or exc}")
