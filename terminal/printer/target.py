"""Printer URLs from configuration or the command line -> a transport."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from terminal.printer.device_file import DeviceFileTransport
from terminal.printer.network import NetworkTransport
from terminal.printer.png_file import PngTransport
from terminal.printer.serial_port import SerialTransport
from terminal.printer.transport import Transport
from terminal.printer.usb import UsbTransport

FORMS = "tcp://HOST:PORT, usb://VID:PID, serial:///dev/ttyX, file:///dev/usb/lp0 or png:PATH"


class PrinterUrlError(ValueError):
    """A printer URL that does not name a printer."""


def open_target(url: str) -> Transport:
    """Parse a printer URL; nothing is opened until a job is printed."""
    if url.startswith("png:"):
        path = url[4:].removeprefix("//")
        if not path:
            raise PrinterUrlError(f"{url!r}: png: needs a folder or a .png file, e.g. png:receipts")
        return PngTransport(Path(path))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "tcp":
        if not parts.hostname:
            raise PrinterUrlError(f"{url!r}: expected tcp://HOST:PORT, e.g. tcp://192.168.1.50:9100")
        try:
            port = parts.port or 9100
        except ValueError:
            raise PrinterUrlError(f"{url!r}: port must be a number 1-65535") from None
        return NetworkTransport(parts.hostname, port)
    if scheme == "usb":
        ids = parts.netloc.split(":")
        try:
            vid, pid = (int(x, 16) for x in ids)
        except ValueError:
            raise PrinterUrlError(f"{url!r}: expected usb://VID:PID in hex, e.g. usb://04b8:0e15") from None
        return UsbTransport(vid, pid)
    if scheme == "serial":
        if not parts.path:
            raise PrinterUrlError(f"{url!r}: expected serial:///dev/ttyUSB0[?baudrate=19200]")
        query = parse_qs(parts.query)
        try:
            baud = int(query.get("baudrate", ["9600"])[0])
        except ValueError:
            raise PrinterUrlError(f"{url!r}: baudrate must be a number") from None
        return SerialTransport(parts.path, baudrate=baud)
    if scheme == "file":
        if not parts.path:
            raise PrinterUrlError(f"{url!r}: expected file:///dev/usb/lp0")
        return DeviceFileTransport(Path(parts.path))
    raise PrinterUrlError(f"{url!r}: unknown printer; use {FORMS}")
