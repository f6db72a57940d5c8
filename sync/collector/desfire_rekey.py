"""Releasing one DESFire band's application master key to a cashier terminal, so it can move the band to the
newest key epoch (ChangeKey of keys 1-3 needs a session with key 0).

The AMK of each band is random and was sealed to the organizer's escrow public key into the issue's journal
entry (`terminal.wallet.desfire_keys.seal_master_key`); the collector holds the escrow private key in the full
event key file. Only an active cashier (or admin) terminal gets an AMK, only for a card the ledger knows and
that is not blocked, and only while a newer epoch exists; every release is written to the audit log.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.collector.backoffice.audit import record as audit
from sync.collector.face_gallery import collector_box
from sync.collector.key_epochs import current_epoch
from sync.collector.storage import Store
from sync.format.event_keys import EventKeys
from sync.format.key_epochs import seal_card_amk

RELEASE_ROLES = ("cashier", "admin")


class ReleaseError(Exception):
    """The AMK is not released (the message says why); `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _sealed_amk(store: Store, card_id: int) -> str | None:
    rows = store.query("SELECT data FROM entries WHERE card_id = ? AND op IN ('issue', 'replace') "
                       "ORDER BY terminal_id, seq", [card_id])
    for row in rows:
        try:
            data = json.loads(row["data"])
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("amk_sealed") and data.get("amk_card_id") == card_id:
            return str(data["amk_sealed"])
    return None


def _open(escrow_private: bytes, sealed_hex: str, card_id: int) -> bytes:
    """As `terminal.wallet.desfire_keys.open_master_key` (the collector does not import the terminal)."""
    try:
        sealed = bytes.fromhex(sealed_hex)
        private = X25519PrivateKey.from_private_bytes(escrow_private)
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        eph, nonce, ct = sealed[:32], sealed[32:44], sealed[44:]
        shared = private.exchange(X25519PublicKey.from_public_bytes(eph))
        key = HKDF(hashes.SHA256(), 16, salt=None, info=b"stallpay-desfire-amk" + eph + public).derive(shared)
        return AESGCM(key).decrypt(nonce, ct, card_id.to_bytes(8, "big"))
    except Exception:  # any malformed or foreign seal
        raise ReleaseError("the card's escrowed master key does not open with this event's escrow key") from None


def release_master_key(store: Store, keys: EventKeys, terminal: dict, card_id: int) -> dict[str, object]:
    """{card_id, epoch, sealed} for a cashier terminal moving `card_id` to the current epoch: the AMK sealed to
    that terminal's box key (`sync.format.key_epochs.seal_card_amk`), never in clear on the wire."""
    if terminal.get("status") != "active" or terminal.get("role") not in RELEASE_ROLES:
        raise ReleaseError("only an active cashier terminal may re-key a card", 403)
    epoch = current_epoch(store)
    if epoch == 0:
        raise ReleaseError("the event's keys were never rotated: nothing to re-key")
    if store.scalar("SELECT 1 FROM hotlist WHERE card_id = ?", [card_id]):
        raise ReleaseError(f"card {card_id} is blocked")
    escrow = keys.desfire.get("escrow_private")
    if not terminal.get("face_key"):
        raise ReleaseError("this terminal has no box key: pair it again", 409)
    if escrow is None:
        raise ReleaseError("the collector's key file holds no escrow private key", 503)
    sealed = _sealed_amk(store, card_id)
    if sealed is None:
        raise ReleaseError(f"no issue of card {card_id} with an escrowed master key has been synced", 404)
    amk = _open(escrow, sealed, card_id)
    tid = int(terminal["terminal_id"])
    sealed_out = seal_card_amk(collector_box(store), str(terminal["face_key"]), keys.event_id, tid, card_id, epoch,
                               amk)
    audit(store, f"terminal {tid}", "release_card_master_key", f"card {card_id}", epoch=epoch)
    return {"card_id": card_id, "epoch": epoch, "sealed": sealed_out}
