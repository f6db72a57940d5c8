"""USB printers through pyusb (libusb), with the Raspberry Pi pitfalls handled.

- "Resource busy": the kernel's usblp driver holds the interface; it is
  detached, and a printer busy with another process is retried a few times.
- Time-outs on long jobs: data goes out in chunks, each with its own
  time-out, instead of one transfer that must finish in one time-out.
- The interface is released after each job so other programs can print.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import Any

from terminal.printer.transport import NotSupported, PrinterUnavailable, Transport

CHUNK = 4096
BUSY_RETRIES = 5


def is_usable() -> bool:
    try:
        import usb.core  # noqa: F401
    except ImportError:
        return False
    return True


class UsbTransport(Transport):
    can_read = True

    def __init__(
        self,
        vendor_id: int,
        product_id: int,
        *,
        interface: int = 0,
        timeout_ms: int = 5000,
        find: Callable[..., Any] | None = None,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.vendor_id, self.product_id, self.interface = vendor_id, product_id, interface
        self.timeout_ms = timeout_ms
        self._find = find
        self._pause = pause
        self._dev: Any = None
        self._out: Any = None
        self._in: Any = None

    def describe(self) -> str:
        return f"usb://{self.vendor_id:04x}:{self.product_id:04x}"

    def open(self) -> None:
        if self._find is None:
            if not is_usable():
                raise NotSupported("USB printers need pyusb and libusb (pip install pyusb)")
            import usb.core

            self._find = usb.core.find
        dev = self._find(idVendor=self.vendor_id, idProduct=self.product_id)
        if dev is None:
            raise PrinterUnavailable(f"{self.describe()}: not found (printer unplugged or switched off?)")
        for attempt in range(BUSY_RETRIES):
            try:
                self._claim(dev)
                break
            except Exception as exc:
                if getattr(exc, "errno", None) == errno.EBUSY and attempt < BUSY_RETRIES - 1:
                    self._pause(0.2 * (attempt + 1))
                    continue
                if getattr(exc, "errno", None) == errno.EACCES:
                    raise PrinterUnavailable(
                        f"{self.describe()}: permission denied (install the udev rule for the printer)"
                    ) from None
                raise PrinterUnavailable(f"{self.describe()}: cannot claim the printer: {exc}") from None
        self._dev = dev

    def _claim(self, dev: Any) -> None:
        try:
            if dev.is_kernel_driver_active(self.interface):
                dev.detach_kernel_driver(self.interface)
        except NotImplementedError:
            pass
        try:
            dev.get_active_configuration()
        except Exception:
            dev.set_configuration()
        cfg = dev.get_active_configuration()
        intf = cfg[(self.interface, 0)]
        self._out = _endpoint(intf, inbound=False)
        self._in = _endpoint(intf, inbound=True)
        if self._out is None:
            raise PrinterUnavailable(f"{self.describe()}: no bulk OUT endpoint")
        import usb.util

        usb.util.claim_interface(dev, self.interface)

    def write(self, data: bytes, label: str = "") -> None:
        if self._out is None:
            raise PrinterUnavailable(f"{self.describe()}: not open")
        view = memoryview(data)
        while view:
            try:
                sent = self._out.write(bytes(view[:CHUNK]), self.timeout_ms)
            except Exception as exc:
                raise PrinterUnavailable(f"{self.describe()}: write failed: {exc}") from None
            view = view[sent:]

    def read(self, size: int, timeout: float) -> bytes:
        if self._in is None:
            raise NotSupported(f"{self.describe()}: printer has no IN endpoint")
        try:
            return bytes(self._in.read(max(size, self._in.wMaxPacketSize), int(timeout * 1000)))[:size]
        except Exception as exc:
            if "timed out" in str(exc).lower() or getattr(exc, "errno", None) == errno.ETIMEDOUT:
                return b""
            raise PrinterUnavailable(f"{self.describe()}: read failed: {exc}") from None

    def close(self) -> None:
        if self._dev is not None:
            import usb.util

            try:
                usb.util.release_interface(self._dev, self.interface)
                usb.util.dispose_resources(self._dev)
            except Exception:  # unplugged in the meantime: nothing left to release
                pass
            self._dev = self._out = self._in = None


def _endpoint(intf: Any, *, inbound: bool) -> Any:
    for ep in intf:
        is_in = bool(ep.bEndpointAddress & 0x80)
        if (ep.bmAttributes & 0x03) == 0x02 and is_in == inbound:
            return ep
    return None
