"""What one terminal is to become: the technician's per-device settings, as a TOML file.

The same file travels on the SD card's boot partition (`stallpay/device.toml`),
comes from a row of the batch CSV, or is given by hand on a running Pi, so
that every path into a provisioned terminal reads one validated model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from terminal.config import CollectorSection, EventSection, TerminalSection
from terminal.tomlfile import TomlFileError, read_toml


class SpecError(Exception):
    """A device file or CSV row that cannot describe a terminal; the message says which field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The terminal's own sections are terminal.toml's (terminal/config): one schema for one terminal. The device file
# only narrows what a device name must be, and adds what provisioning needs beyond terminal.toml.
DeviceTerminal = TerminalSection


class DeviceEvent(EventSection):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class DeviceCollector(CollectorSection):
    pairing_code: str = Field(default="", description="one-time code from 'stallpay collector pairing-code'")

    @field_validator("url")
    @classmethod
    def _names_a_host(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value


class DeviceWifi(_Strict):
    ssid: str = Field(default="", max_length=32)
    psk: str = Field(default="", repr=False)
    country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")

    @field_validator("psk")
    @classmethod
    def _psk(cls, value: str) -> str:
        if value and not 8 <= len(value) <= 63:
            raise ValueError("WPA passphrase must be 8..63 characters")
        return value


class DeviceHardware(_Strict):
    reader: Literal["pcsc", "emulated"] = "pcsc"
    reader_name: str = ""
    printer_url: str = Field(default="", description="tcp://, usb://VID:PID, serial://, file:// (see receipts)")
    printer_width: Literal[58, 80] = 80
    camera: str = Field(default="", description="empty = none; 'picamera' or an image file (simulation)")


class DeviceSystem(_Strict):
    hostname: str = Field(default="", pattern=r"^$|^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    ssh_authorized_key: str = ""
    timezone: str = "UTC"
    ui_url: str = "http://127.0.0.1:8080/"
    read_only_root: bool = False
    data_device: str = Field(default="", description="block device of the data partition (read-only root only)")
    ntp: list[str] = Field(default_factory=list, description="NTP servers; the collector's host is added")

    @field_validator("ssh_authorized_key")
    @classmethod
    def _ssh_key(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+|sk-\S+) [A-Za-z0-9+/=]+( .*)?$", value):
            raise ValueError("not an OpenSSH public key line (ssh-ed25519 AAAA... comment)")
        return value


class DeviceSpec(_Strict):
    terminal: DeviceTerminal
    event: DeviceEvent
    collector: DeviceCollector = DeviceCollector()
    wifi: DeviceWifi = DeviceWifi()
    hardware: DeviceHardware = DeviceHardware()
    system: DeviceSystem = DeviceSystem()

    @property
    def hostname(self) -> str:
        return self.system.hostname or f"stallpay-t{self.terminal.id:05d}"

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump(mode="json"))


def explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_spec(data: dict, where: str) -> DeviceSpec:
    try:
        return DeviceSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{where}: {explain(exc)}") from None


def load_spec(path: Path) -> DeviceSpec:
    try:
        raw = read_toml(path, missing="no such device file")
    except TomlFileError as exc:
        raise SpecError(str(exc)) from None
    return parse_spec(raw, str(path))


CSV_COLUMNS = {
    "terminal_id": ("terminal", "id"),
    "terminal_name": ("terminal", "name"),
    "vendor": ("terminal", "vendor"),
    "mode": ("terminal", "mode"),
    "event": ("event", "id"),
    "currency": ("event", "currency"),
    "locale": ("event", "locale"),
    "collector_url": ("collector", "url"),
    "pairing_code": ("collector", "pairing_code"),
    "wifi_ssid": ("wifi", "ssid"),
    "wifi_psk": ("wifi", "psk"),
    "wifi_country": ("wifi", "country"),
    "printer_url": ("hardware", "printer_url"),
    "hostname": ("system", "hostname"),
    "ssh_key": ("system", "ssh_authorized_key"),
}


def spec_from_row(row: dict[str, str], where: str, defaults: dict | None = None) -> DeviceSpec:
    """A CSV row (columns of CSV_COLUMNS; empty cells take the default) as a device spec."""
    unknown = sorted(k for k in row if k and k not in CSV_COLUMNS)
    if unknown:
        raise SpecError(f"{where}: unknown column(s) {', '.join(unknown)}; known: {', '.join(CSV_COLUMNS)}")
    data: dict[str, dict] = {k: dict(v) for k, v in (defaults or {}).items()}
    for column, value in row.items():
        if column is None or value is None or not value.strip():
            continue
        section, key = CSV_COLUMNS[column]
        data.setdefault(section, {})[key] = value.strip()
    return parse_spec(data, where)
