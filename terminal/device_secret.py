"""The board's own secret: key material that is not on the SD card, mixed into keys derived from files that are.

A stolen SD card holds the key file and every database; what it must not hold
is enough to open them. Where the board has a device secret, keys for data at
rest (the face gallery; key files, for the secure-cards work) are derived from
the key file *and* that secret, so the card alone reveals nothing.

One interface, several backends (DESIGN.md "Hardware, and the software that
stands in for it"), chosen once from `STALLPAY_DEVICE_SECRET`:

- `rpi-otp` - Raspberry Pi OTP device private key, read with the firmware tool
  `rpi-otp-private-key` (Pi 4/5, CM4/CM5, once programmed with
  `rpi-otp-private-key -w`). An all-zero key means "not programmed".
- `file:/path` - the simulated board: 32 random bytes in a file (created 0600 on
  first use). On a Pi this is only as good as where the file lives, which is
  why it is not the default; tests and laptops use it.
- `none` - no device secret: keys come from the key file alone, and
  `describe()` says so (the self-test and `sync status` show it).
- `auto` (default) - `rpi-otp` when the tool exists and returns a programmed
  key, else `none`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Protocol

ENV = "STALLPAY_DEVICE_SECRET"
OTP_TOOL = "rpi-otp-private-key"
SECRET_BYTES = 32


class DeviceSecretError(Exception):
    """The configured device secret cannot be read; the message says why (for the technician)."""


class DeviceSecret(Protocol):
    """Must implement `read()` (bytes, empty when the board has none) and `describe()`."""

    def read(self) -> bytes: ...

    def describe(self) -> str: ...


class NoDeviceSecret:
    def read(self) -> bytes:
        return b""

    def describe(self) -> str:
        return "no device secret: data at rest is keyed from the SD card's key file alone"


class RpiOtpSecret:
    """The Raspberry Pi OTP private key (256 bits in OTP rows, readable only on that board)."""

    def __init__(self, tool: str = OTP_TOOL) -> None:
        self.tool = tool

    @staticmethod
    def is_usable(tool: str = OTP_TOOL) -> bool:
        return shutil.which(tool) is not None

    def read(self) -> bytes:
        try:
            out = subprocess.run([self.tool], capture_output=True, text=True, timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise DeviceSecretError(f"{self.tool} failed: {exc}") from None
        try:
            key = bytes.fromhex(out.strip().split()[-1]) if out.strip() else b""
        except ValueError:
            raise DeviceSecretError(f"{self.tool} printed something that is not a hex key") from None
        if len(key) != SECRET_BYTES or not any(key):
            raise DeviceSecretError("the OTP device key is not programmed (rpi-otp-private-key -w)")
        return key

    def describe(self) -> str:
        return "Raspberry Pi OTP device key"


class FileSecret:
    """The simulated board: a secret file kept apart from the data directory (created on first use, 0600)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def read(self) -> bytes:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(SECRET_BYTES))
        data = self.path.read_bytes()
        if len(data) != SECRET_BYTES:
            raise DeviceSecretError(f"{self.path}: a device secret is {SECRET_BYTES} bytes, this file has {len(data)}")
        return data

    def describe(self) -> str:
        return f"simulated device secret ({self.path})"


def device_secret(choice: str | None = None) -> DeviceSecret:
    """The backend named by `choice` or `$STALLPAY_DEVICE_SECRET` (see the module docstring)."""
    choice = (choice if choice is not None else os.environ.get(ENV, "auto")).strip()
    if choice == "none":
        return NoDeviceSecret()
    if choice == "rpi-otp":
        return RpiOtpSecret()
    if choice.startswith("file:") and len(choice) > 5:
        return FileSecret(choice[5:])
    if choice in ("", "auto"):
        if RpiOtpSecret.is_usable():
            try:
                RpiOtpSecret().read()
                return RpiOtpSecret()
            except DeviceSecretError:
                pass
        return NoDeviceSecret()
    raise DeviceSecretError(f"{ENV}={choice!r}: use auto, rpi-otp, file:/path or none")
