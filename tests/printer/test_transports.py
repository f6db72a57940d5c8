from __future__ import annotations

import errno
from pathlib import Path

import pytest

from terminal.printer.device_file import DeviceFileTransport
from terminal.printer.network import NetworkTransport
from terminal.printer.png_file import PngTransport
from terminal.printer.serial_port import SerialTransport
from terminal.printer.target import PrinterUrlError, open_target
from terminal.printer.transport import PrinterUnavailable
from terminal.printer.usb import UsbTransport


def test_urls_name_their_transport() -> None:
    t = open_target("tcp://192.168.1.50:9100")
    assert isinstance(t, NetworkTransport) and (t.host, t.port) == ("192.168.1.50", 9100)
    assert open_target("tcp://printer").port == 9100
    u = open_target("usb://04b8:0e15")
    assert isinstance(u, UsbTransport) and (u.vendor_id, u.product_id) == (0x04B8, 0x0E15)
    s = open_target("serial:///dev/ttyUSB0?baudrate=19200")
    assert isinstance(s, SerialTransport) and (s.port, s.baudrate) == ("/dev/ttyUSB0", 19200)
    assert isinstance(open_target("file:///dev/usb/lp0"), DeviceFileTransport)
    assert isinstance(open_target("png:receipts"), PngTransport)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("lpt://1", "unknown printer"),
        ("tcp://:9100", "expected tcp://HOST:PORT"),
        ("tcp://host:99999", "port must be"),
        ("usb://epson", "expected usb://VID:PID"),
        ("serial://", "expected serial://"),
        ("png:", "needs a folder"),
    ],
)
def test_bad_urls_say_what_is_expected(url: str, message: str) -> None:
    with pytest.raises(PrinterUrlError, match=message):
        open_target(url)


def test_device_file_receives_the_bytes_and_a_missing_device_is_reported(tmp_path) -> None:
    t = DeviceFileTransport(tmp_path / "lp0")
    t.open()
    t.write(b"abc")
    t.close()
    assert (tmp_path / "lp0").read_bytes() == b"abc"
    with pytest.raises(PrinterUnavailable, match="unplugged"):
        DeviceFileTransport(tmp_path / "gone" / "lp0").open()


def test_network_transport_reports_a_refused_connection() -> None:
    with pytest.raises(PrinterUnavailable, match="cannot connect"):
        NetworkTransport("127.0.0.1", 1, timeout=1).open()


class FakeEndpoint:
    def __init__(self, address: int, limit: int = 1000) -> None:
        self.bEndpointAddress, self.bmAttributes, self.wMaxPacketSize = address, 0x02, 64
        self.limit = limit
        self.chunks: list[bytes] = []

    def write(self, data: bytes, timeout: int) -> int:
        self.chunks.append(data[: self.limit])
        return min(len(data), self.limit)


class BusyError(Exception):
    errno = errno.EBUSY


class FakeUsbDevice:
    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.out, self.inp = FakeEndpoint(0x01), FakeEndpoint(0x81)
        self.detached = False

    def is_kernel_driver_active(self, i: int) -> bool:
        return not self.detached

    def detach_kernel_driver(self, i: int) -> None:
        if self.busy:
            self.busy -= 1
            raise BusyError("[Errno 16] Resource busy")
        self.detached = True

    def get_active_configuration(self):
        return {(0, 0): [self.out, self.inp]}


def test_usb_detaches_usblp_retries_when_busy_and_writes_in_chunks(monkeypatch) -> None:
    import usb.util

    monkeypatch.setattr(usb.util, "claim_interface", lambda dev, i: None)
    monkeypatch.setattr(usb.util, "release_interface", lambda dev, i: None)
    monkeypatch.setattr(usb.util, "dispose_resources", lambda dev: None)
    dev = FakeUsbDevice(busy=2)
    pauses: list[float] = []
    t = UsbTransport(0x04B8, 0x0E15, find=lambda **kw: dev, pause=pauses.append)
    t.open()
    assert dev.detached and len(pauses) == 2
    t.write(bytes(10_000))
    assert sum(map(len, dev.out.chunks)) == 10_000 and max(map(len, dev.out.chunks)) <= 4096
    t.close()


def test_usb_unplugged_or_always_busy_is_reported() -> None:
    with pytest.raises(PrinterUnavailable, match="not found"):
        UsbTransport(1, 2, find=lambda **kw: None).open()
    t = UsbTransport(1, 2, find=lambda **kw: FakeUsbDevice(busy=99), pause=lambda s: None)
    with pytest.raises(PrinterUnavailable, match="Resource busy"):
        t.open()


def test_png_folder_numbers_each_receipt_once_and_a_restart_continues(tmp_path: Path) -> None:
    """The folder is counted when the first receipt is written, not listed again for every one (that grew slower
    all day), and the transport keeps nothing per receipt."""
    first = PngTransport(tmp_path / "receipts")
    first.open()
    for label in ("a", "b", "c"):
        first.write(b"\x89PNG", label)
    again = PngTransport(tmp_path / "receipts")  # the kiosk restarted
    again.write(b"\x89PNG", "d")
    assert sorted(p.name for p in (tmp_path / "receipts").iterdir()) == [
        "00001-a.png", "00002-b.png", "00003-c.png", "00004-d.png"]
    assert not any(isinstance(v, list) for v in vars(first).values())
