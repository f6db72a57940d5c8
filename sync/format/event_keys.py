"""The event key file both sides read: the terminal (its own keys) and the collector (the full event keys, to sign
bundles and hand each paired terminal the DESFire role keys of its mode)."""

from __future__ import annotations

import secrets
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path

import tomli_w
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field

ROLE_KEYS = ("credit", "debit", "read")
MODE_ROLES = {"sale": ("debit", "read"), "cashier": ("credit", "debit", "read"), "admin": ("read",)}


class ConfigError(Exception):
    """Configuration or key file problem, phrased for the technician."""


class EventKeys(BaseModel):
    """Secrets of one event on one terminal (or all of them, on the collector). Never logged; repr hides them."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    master_key: bytes = Field(repr=False)
    terminal_signing_key: bytes = Field(repr=False)
    # DESFire role master keys and escrow keys present in this file (credit, debit, read, escrow_*)
    desfire: dict[str, bytes] = Field(default_factory=dict, repr=False)
    # NTAG band keys of later key epochs ([epochs], written from the collector's bundle; master_key is epoch 0)
    epoch: int = 0
    old_until: int = 0
    epoch_keys: dict[int, bytes] = Field(default_factory=dict, repr=False)
    # DESFire role master keys of later epochs ([epochs.desfire."N"], only the roles of this terminal's mode)
    epoch_desfire: dict[int, dict[str, bytes]] = Field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return f"EventKeys(event_id={self.event_id!r}, epoch={self.epoch})"

    def band_masters(self) -> dict[int, bytes]:
        """The NTAG band master key of every epoch this file holds (epoch 0 is `master_key`)."""
        return {0: self.master_key, **self.epoch_keys}

    def desfire_epochs(self) -> dict[int, dict[str, bytes]]:
        """The DESFire role master keys of every epoch this file holds ([desfire] is epoch 0)."""
        roles = {role: k for role, k in self.desfire.items() if role in ROLE_KEYS}
        return {0: roles, **self.epoch_desfire}


def check_key_permissions(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: key file is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            f"run 'chmod 600 {path}'"
        )


def _read_plain(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_keys(path: Path | str, event_id: str | None = None, *,
              read_text: Callable[[Path], str] = _read_plain) -> EventKeys:
    """The key file at `path`. `read_text` gives its TOML: the terminal passes one that opens a file sealed to
    its board (`terminal.key_file_seal`); it may raise ConfigError."""
    path = Path(path)
    try:
        check_key_permissions(path)
        text = read_text(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: key file missing") from None
    return parse_keys(text, path, event_id)


def parse_keys(text: str, path: Path | str, event_id: str | None = None) -> EventKeys:
    """The key file's TOML text as EventKeys; `path` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise ConfigError(f"{path}: key file is not valid TOML (a file sealed to a board opens only there)") \
            from None
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
        keys.epoch_desfire = _epoch_desfire(raw.get("epochs", {}))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if len(keys.master_key) != 16:
        raise ConfigError(f"{path}: event master_key must be 16 bytes (32 hex digits)")
    if len(keys.terminal_signing_key) != 32:
        raise ConfigError(f"{path}: terminal signing_key must be 32 bytes (64 hex digits)")
    if event_id is not None and keys.event_id != event_id:
        raise ConfigError(f"{path}: keys are for event {keys.event_id!r}, configuration says {event_id!r}")
    return keys


def _epochs(section: dict) -> tuple[int, int, dict[int, bytes]]:
    """The optional [epochs] section: current, old_until and [epochs.band] "N" = 16-byte key (hex)."""
    band = {int(k): bytes.fromhex(v) for k, v in dict(section.get("band", {})).items()}
    if any(len(v) != 16 or not 1 <= k <= 255 for k, v in band.items()):
        raise ValueError("[epochs.band] keys are epochs 1..255 with 16-byte keys (32 hex digits)")
    current = int(section.get("current", 0))
    if current and current not in band:
        raise ValueError(f"[epochs] current = {current} but [epochs.band] has no key for it")
    old_until = int(section.get("old_until", 0))
    if current < 0 or old_until < 0:
        raise ValueError("[epochs] current and old_until are zero or more")
    return current, old_until, band


def _epoch_desfire(section: dict) -> dict[int, dict[str, bytes]]:
    """[epochs.desfire."N"] credit/debit/read = 16-byte key (hex): the role keys of epoch N this file holds."""
    out: dict[int, dict[str, bytes]] = {}
    for epoch, roles in dict(section.get("desfire", {})).items():
        n = int(epoch)
        keys = {str(role): bytes.fromhex(v) for role, v in dict(roles).items()}
        if not 1 <= n <= 255 or any(r not in ROLE_KEYS or len(v) != 16 for r, v in keys.items()):
            raise ValueError("[epochs.desfire] holds epochs 1..255 with credit/debit/read 16-byte keys")
        out[n] = keys
    return out


def epochs_section(keys: EventKeys) -> dict:
    """[epochs] of a key file (empty when the event never rotated)."""
    if not keys.epoch_keys:
        return {}
    out: dict = {"current": keys.epoch, "old_until": keys.old_until,
                 "band": {str(k): v.hex() for k, v in sorted(keys.epoch_keys.items())}}
    if keys.epoch_desfire:
        out["desfire"] = {str(e): {r: v.hex() for r, v in sorted(roles.items())}
                          for e, roles in sorted(keys.epoch_desfire.items())}
    return out


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


def role_limited(desfire: dict[str, bytes], mode: str) -> dict[str, bytes]:
    """Only what a terminal of `mode` needs: its role keys and the escrow public key."""
    if mode not in MODE_ROLES:
        raise ValueError(f"unknown terminal mode {mode!r}")
    out = {role: desfire[role] for role in MODE_ROLES[mode] if role in desfire}
    if "escrow_public" in desfire:
        out["escrow_public"] = desfire["escrow_public"]
    return out


def desfire_for_mode(keys: EventKeys, mode: str) -> dict[str, str]:
    """The [desfire] section (hex) a terminal of `mode` gets: its role keys and the escrow public key."""
    return {k: v.hex() for k, v in role_limited(keys.desfire, mode).items()}


def new_desfire_keys() -> dict[str, str]:
    """The [desfire] section of a full event key file (hex)."""
    private = X25519PrivateKey.generate()
    out = {role: secrets.token_bytes(16).hex() for role in ROLE_KEYS}
    out["escrow_private"] = private.private_bytes_raw().hex()
    out["escrow_public"] = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return out


def new_keys_text(event_id: str, master_key: bytes | None = None) -> str:
    return tomli_w.dumps(
        {
            "event": {"id": event_id, "master_key": (master_key or secrets.token_bytes(16)).hex()},
            "terminal": {"signing_key": secrets.token_bytes(32).hex()},
            "desfire": new_desfire_keys(),
        }
    )
