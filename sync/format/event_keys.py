"""The event key file both sides read: the terminal (its own keys) and the collector (the full event keys, to sign
bundles and hand each paired terminal the DESFire role keys of its mode)."""

from __future__ import annotations

import secrets
import stat
import tomllib
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

    def __str__(self) -> str:
        return f"EventKeys(event_id={self.event_id!r})"


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
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: key file missing") from None
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
