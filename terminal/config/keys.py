"""The event key file as the terminal writes it: new files, role-limited copies, 0600 from the first byte.

The file's model and loading (`EventKeys`, `load_keys`, which DESFire role keys each mode may hold) are shared
with the collector and live in `sync.format.event_keys`; they are re-exported here for the terminal.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import tomli_w

from sync.format.event_keys import (  # noqa: F401  (re-exported for the terminal)
    DESFIRE_KEY_SIZES,
    MODE_ROLES,
    ROLE_KEYS,
    ConfigError,
    EventKeys,
    check_key_permissions,
    desfire_for_mode,
    load_keys,
    new_desfire_keys,
    new_keys_text,
    role_limited,
)


def write_secret_file(path: Path, text: str) -> None:
    """Create a file only the owner can read, without a window where others could."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


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
