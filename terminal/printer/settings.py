"""The `[printer]` section of the terminal configuration.

Kept next to the printer code so that the configuration loader only has to
mention it; everything a technician may set for receipts is here.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

QR_FIELDS = ("transaction", "terminal", "seq", "card", "event", "kind")


class PrinterSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
