"""The `[ui]`, `[printer]` and `[gpio]` sections of terminal.toml: the parts of the stall a technician sets up.

They live with the rest of the configuration, at the bottom, so that reading
terminal.toml loads neither python-escpos, Pillow, gpiozero nor the web stack.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    """A section that refuses keys it does not know (a typo in terminal.toml is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


class UiSection(Strict):
    """Where the kiosk page is served, language, timeouts."""

    host: str = Field(default="127.0.0.1", description="address of the kiosk page; keep it local on a stall")
    port: int = Field(default=8080, ge=1, le=65535)
    language: Literal["en", "tr", "bg", "zh"] = "en"
    idle_logout_s: int = Field(default=300, ge=0, description="log the operator out after this long idle; 0 = never")
    lockout_failures: int = Field(default=5, ge=1, description="wrong PINs before an operator is locked out")
    lockout_s: int = Field(default=300, ge=1)
    result_s: float = Field(default=6.0, gt=0, description="how long an approved / declined screen stays up")
    leave_pending_s: float = Field(default=30.0, ge=0, description="after this long waiting for a band pulled away "
                                   "mid-write, any operator may leave the payment pending (settled at its next tap)")


QR_FIELDS = ("transaction", "terminal", "seq", "card", "event", "kind")


class PrinterSection(Strict):
    """Receipts: paper, transport, copies, policy, QR link, text rendering."""

    width: Literal[58, 80] = Field(default=80, description="paper width in mm")
    profile: str = Field(default="", description="python-escpos profile name; empty = a common one for the width")
    url: str = Field(
        default="",
        description="tcp://HOST:PORT, usb://VID:PID, serial:///dev/ttyX, file:///dev/usb/lp0 or png:DIR; "
        "empty = PNG previews in the data directory",
    )
    copies: Literal[1, 2] = Field(default=1, description="2 = merchant copy and customer copy")
    receipt: Literal["always", "on_request"] = "always"
    qr_url: str = Field(default="", description="link printed as a QR code, e.g. https://x/r/{transaction}")
    logo: Path | None = None
    text: Literal["auto", "codepage", "image"] = Field(
        default="auto",
        description="auto: printer code pages where they cover the text, an image otherwise; "
        "codepage: never images ('?' for what the printer cannot print); image: always images",
    )
    status: bool = Field(default=True, description="ask the printer for paper / cover status (DLE EOT)")
    timezone: str = Field(default="", description="time zone for printed times; empty = the system's")

    @field_validator("qr_url")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise ValueError(f"qr_url is not a valid template: {exc}") from None
        unknown = [n for n in names if n not in QR_FIELDS]
        if unknown:
            raise ValueError(f"qr_url uses unknown field {{{unknown[0]}}}; known: {', '.join(QR_FIELDS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use e.g. Europe/Sofia)") from None
        return value


class GpioSection(Strict):
    """Lights, buzzer and cancel button (BCM pins)."""

    enabled: bool = True
    backend: Literal["auto", "mock", "pi"] = Field(
        default="auto", description="auto: real pins on a Raspberry Pi, gpiozero's mock pins elsewhere")
    green_led: int = Field(default=17, ge=0, le=27, description="BCM pin numbers")
    red_led: int = Field(default=27, ge=0, le=27)
    buzzer: int = Field(default=22, ge=0, le=27)
    cancel_button: int = Field(default=23, ge=0, le=27)
