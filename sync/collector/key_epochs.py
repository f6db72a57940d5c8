"""Key epochs at the collector: `stallpay collector rotate-keys`, and the new keys sealed to each paired terminal.

A stolen terminal's key file holds the event's band master key. Revoking the terminal refuses its batches and
requests; rotating starts a new epoch whose band key the stolen file does not have. The key is made here, kept
in the database only sealed under the collector's key file (`sync.collector.sealing`), and travels in each bundle sealed
to one terminal: AES-256-GCM under the X25519 box key shared with the terminal's `face_key` from pairing
(`sync.format.face_keys.box_key`, direction b"keys"), so neither a revoked terminal (it gets no bundle) nor anyone
holding another terminal's bundle can open it. Terminals without a registered box key (paired before it
existed) get no keys and must pair again.

Old-epoch bands stay readable by terminals (they keep every epoch's key) and are moved to the new epoch at
their next write. `old_until` (rotation time + grace) is the moment terminals stop accepting bands still in an
older epoch: those go to a cashier to be exchanged (`collector replace`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync.collector.event import now_iso, require_event
from sync.collector.sealing import seal, unseal
from sync.collector.storage import Store
from sync.format.event_keys import MODE_ROLES, ROLE_KEYS, role_limited
from sync.format.key_epochs import MAX_EPOCH, seal_section


class RotationError(Exception):
    """The rotation cannot be made (the message says why)."""


def _purpose(epoch: int) -> str:
    return f"band key epoch {epoch}"


def current_epoch(store: Store) -> int:
    return int(store.scalar("SELECT COALESCE(MAX(epoch), 0) FROM key_epochs") or 0)


def rotate(store: Store, *, reason: str = "terminal revoked", grace_hours: float = 24.0) -> dict[str, Any]:
    """Start the next epoch: a new random band key; returns what the organizer is told (never the key)."""
    require_event(store)
    if grace_hours < 0:
        raise RotationError("--grace-hours must be zero or more")
    with store.transaction():
        epoch = current_epoch(store) + 1
        if epoch > MAX_EPOCH:
            raise RotationError(f"this event has used all {MAX_EPOCH} key epochs")
        old_until = int((datetime.now(UTC) + timedelta(hours=grace_hours)).timestamp()) if grace_hours else 0
        store.execute("INSERT INTO key_epochs (epoch, started_at, reason, sealed_key, old_until) "
                      "VALUES (?, ?, ?, ?, ?)",
                      # band key, then the DESFire credit, debit and read master keys of the epoch
                      [epoch, now_iso(), reason, seal(store, _purpose(epoch), secrets.token_bytes(64)), old_until])
    revoked = [r["terminal_id"] for r in store.query("SELECT terminal_id FROM terminals WHERE status = 'revoked' "
                                                     "ORDER BY terminal_id")]
    waiting = [r["terminal_id"] for r in store.query("SELECT terminal_id FROM terminals WHERE status = 'active' AND "
                                                     "(face_key IS NULL OR face_key = '') ORDER BY terminal_id")]
    return {"epoch": epoch, "old_until": old_until, "revoked_terminals": revoked, "cannot_receive": waiting}


def _epoch_secrets(store: Store) -> dict[int, bytes]:
    return {int(r["epoch"]): unseal(store, _purpose(int(r["epoch"])), r["sealed_key"])
            for r in store.query("SELECT epoch, sealed_key FROM key_epochs ORDER BY epoch")}


def band_keys(store: Store) -> dict[int, bytes]:
    """Every epoch's band key (1..n); the event key file's master key is epoch 0."""
    return {epoch: raw[:16] for epoch, raw in _epoch_secrets(store).items()}


def desfire_keys(store: Store) -> dict[int, dict[str, bytes]]:
    """Every epoch's DESFire role master keys (1..n; epochs rotated before DESFire rotation existed have none);
    the event key file's [desfire] is epoch 0."""
    return {epoch: dict(zip(ROLE_KEYS, (raw[16:32], raw[32:48], raw[48:64]), strict=True))
            for epoch, raw in _epoch_secrets(store).items() if len(raw) == 64}


def bundle_section(store: Store, box: X25519PrivateKey, event_id: str, terminal: dict | None) -> dict[str, Any]:
    """The `key_epoch` part of a bundle for `terminal`: epoch number, old_until, and the keys sealed for it."""
    epoch = current_epoch(store)
    if epoch == 0 or terminal is None or terminal.get("status") != "active":
        return {"epoch": epoch}
    old_until = int(store.scalar("SELECT old_until FROM key_epochs WHERE epoch = ?", [epoch]) or 0)
    if not terminal.get("face_key"):
        return {"epoch": epoch, "old_until": old_until, "sealed": None}
    mode = str(terminal.get("role") or "sale")
    desfire = {e: role_limited(roles, mode) for e, roles in desfire_keys(store).items()} if mode in MODE_ROLES else {}
    sealed = seal_section(box, terminal["face_key"], event_id, int(terminal["terminal_id"]), epoch,
                          band_keys(store), desfire)
    return {"epoch": epoch, "old_until": old_until, "sealed": sealed}
