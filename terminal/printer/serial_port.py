"""Serial printers (RS-232 or USB-serial) through pyserial; can read status."""

from __future__ import annotations

from terminal.printer.transport import NotSupported, PrinterUnavailable, Transport


def is_usable() -> bool:
    try:
        import serial  # noqa: F401
    except ImportError:
        return False
    return True


class SerialTransport(Transport):
    can_read = True

    def __init__(self, port: str, *, baudrate: int = 9600, timeout: float = 5.0, dsrdtr: bool = True) -> None:
        self.port, self.baudrate, self.timeout, self.dsrdtr = port, baudrate, timeout, dsrdtr
        self._serial = None

    def describe(self) -> str:
        return f"serial://{self.port}"

    def open(self) -> None:
        if not is_usable():
            raise NotSupported("serial printers need pyserial (pip install pyserial)")
        import serial

        try:
            self._serial = serial.Serial(
                self.port, baudrate=self.baudrate, timeout=self.status_timeout, write_timeout=self.timeout,
                dsrdtr=self.dsrdtr,
            )
        except (serial.SerialException, OSError) as exc:
            raise PrinterUnavailable(f"{self.describe()}: cannot open: {exc}") from None

    def write(self, data: bytes, label: str = "") -> None:
        import serial

        if self._serial is None:
            raise PrinterUnavailable(f"{self.describe()}: not open")
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise PrinterUnavailable(f"{self.describe()}: write failed: {exc}") from None

    def read(self, size: int, timeout: float) -> bytes:
        import serial

        if self._serial is None:
            raise PrinterUnavailable(f"{self.describe()}: not open")
        self._serial.timeout = timeout
        try:
            return bytes(self._serial.read(size))
        except (serial.SerialException, OSError) as exc:
            raise PrinterUnavailable(f"{self.describe()}: read failed: {exc}") from None

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            finally:
                self._serial = None
