"""The event key file: secrets of one event on one terminal, readable by the service user alone.

The terminal refuses to start when the file is readable by others. Which
DESFire role keys a terminal of each mode may hold is decided here, where the
file is written, so a vendor terminal never receives a key that can credit.
"""

from __future__ import annotations

import os
import secrets
import stat
import tomllib
from pathlib import Path

import tomli_w
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import Field

from terminal.config.devices import Strict
from terminal.config.model import ConfigError

ROLE_KEYS = ("credit", "debit", "read")
MODE_ROLES = {"sale": ("debit", "read"), "cashier": ("credit", "debit", "read"), "admin": ("read",)}




class EventKeys(Strict):
    """Secrets of one event on one terminal. Never logged; repr hides them."""

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


def write_secret_file(path: Path, text: str) -> None:
    """Create a file only the owner can read, without a window where others could."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


def new_desfire_keys() -> dict[str, str]:
    """The [desfire] section of a full event key file (hex)."""
    private = X25519PrivateKey.generate()
    out = {role: secrets.token_bytes(16).hex() for role in ROLE_KEYS}
    out["escrow_private"] = private.private_bytes_raw().hex()
    out["escrow_public"] = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return out


def role_limited(desfire: dict[str, bytes], mode: str) -> dict[str, bytes]:
    """Only what a terminal of `mode` needs: its role keys and the escrow public key."""
    if mode not in MODE_ROLES:
        raise ValueError(f"unknown terminal mode {mode!r}")
    out = {role: desfire[role] for role in MODE_ROLES[mode] if role in desfire}
    if "escrow_public" in desfire:
        out["escrow_public"] = desfire["escrow_public"]
    return out


def new_keys_text(event_id: str, master_key: bytes | None = None) -> str:
    return tomli_w.dumps(
        {
            "event": {"id": event_id, "master_key": (master_key or secrets.token_bytes(16)).hex()},
            "terminal": {"signing_key": secrets.token_bytes(32).hex()},
            "desfire": new_desfire_keys(),
        }
    )


def desfire_for_mode(keys: EventKeys, mode: str) -> dict[str, str]:
    """The [desfire] section (hex) a terminal of `mode` gets: its role keys and the escrow public key."""
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
