"""The event key file as the terminal writes it: new files, role-limited copies, 0600 from the first byte.

The file's model and loading (`EventKeys`, `load_keys`, which DESFire role keys each mode may hold) are shared
with the collector and live in `sync.format.event_keys`; they are re-exported here for the terminal.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import tomli_w

from sync.format import event_keys
from sync.format.event_keys import (  # noqa: F401  (re-exported for the terminal)
    DESFIRE_KEY_SIZES,
    MODE_ROLES,
    ROLE_KEYS,
    ConfigError,
    EventKeys,
    check_key_permissions,
    desfire_for_mode,
    epochs_section,
    new_desfire_keys,
    new_keys_text,
    role_limited,
)
from terminal.key_file_seal import KeyFileSealError, read_key_text, seal_text


def _open_sealed(path: Path) -> str:
    try:
        return read_key_text(path)
    except KeyFileSealError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_keys(path: Path | str, event_id: str | None = None) -> EventKeys:
    """The shared loader (`sync.format.event_keys`) over a key file that may be sealed to this board."""
    return event_keys.load_keys(path, event_id, read_text=_open_sealed)


def write_secret_file(path: Path, text: str) -> None:
    """A key file only the owner can read, without a window where others could, sealed to the board where it
    can be (`terminal.key_file_seal`); written then renamed, so a crash leaves the old file."""
    from sync.format.private_files import write_private

    write_private(path, seal_text(text).encode())


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
