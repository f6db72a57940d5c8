"""DESFire keys of an event: per-role master keys, per-card diversification, and the escrowed AMK.

Each role (credit, debit, read) has its own event master key, diversified per
card with AN10922 over the card's real UID, the event's AID and the event's
system identifier. A terminal's key file holds only the role keys of its
mode (`terminal.config.role_limited`), so a vendor terminal holds no key that can credit.

The application master key (AMK) of each card is random: the personalising
cashier seals it to the organizer's escrow public key (X25519, HKDF-SHA256,
AES-GCM) into the issue's journal entry and forgets it. No terminal holds a
key that can change a card's keys; the organizer can recover one with the
escrow private key, which stays in the full event key file.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.format.event_keys import MODE_ROLES, ROLE_KEYS, role_limited  # noqa: F401  (shared with the collector)
from terminal.wallet.keys import diversify_an10922, event_system_id, event_tag

IDENTITY_MAGIC = b"SPDF"
IDENTITY_VERSION = 1
PRODUCT_CODES = {"DESFIRE_EV1": 1, "DESFIRE_EV2": 2, "DESFIRE_EV3": 3}


class EscrowError(Exception):
    """A sealed application master key that does not open with this escrow key."""


def event_aid(event_id: str) -> bytes:
    """The event's DESFire application id: 3 bytes, never 000000 (the PICC level)."""
    digest = hashlib.sha256(b"stallpay-desfire-aid:" + event_id.encode()).digest()
    return b"\x53" + digest[:2]  # 'S' first: never the PICC AID


def card_key(role_master: bytes, uid: bytes, event_id: str) -> bytes:
    return diversify_an10922(role_master, uid, event_aid(event_id), event_system_id(event_id))


def identity_bytes(event_id: str, product: str) -> bytes:
    """Identity file: magic, version, product, real UID (filled in at personalisation), event tag."""
    return (IDENTITY_MAGIC + bytes([IDENTITY_VERSION, PRODUCT_CODES.get(product, 0)]) + bytes(7)
            + event_tag(event_id)).ljust(32, b"\x00")


def _escrow_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 16, salt=None, info=b"stallpay-desfire-amk" + ephemeral + recipient).derive(shared)


def seal_master_key(escrow_public: bytes, amk: bytes, card_id: int) -> str:
    """The AMK sealed to the organizer (hex): ephemeral X25519 public key || AES-GCM ciphertext."""
    recipient = X25519PublicKey.from_public_bytes(escrow_public)
    ephemeral = X25519PrivateKey.generate()
    eph = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = _escrow_key(ephemeral.exchange(recipient), eph, escrow_public)
    nonce = os.urandom(12)
    return (eph + nonce + AESGCM(key).encrypt(nonce, amk, card_id.to_bytes(8, "big"))).hex()


def open_master_key(escrow_private: bytes, sealed_hex: str, card_id: int) -> bytes:
    try:
        sealed = bytes.fromhex(sealed_hex)
        private = X25519PrivateKey.from_private_bytes(escrow_private)
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        eph, nonce, ct = sealed[:32], sealed[32:44], sealed[44:]
        key = _escrow_key(private.exchange(X25519PublicKey.from_public_bytes(eph)), eph, public)
        return AESGCM(key).decrypt(nonce, ct, card_id.to_bytes(8, "big"))
    except Exception as exc:  # any malformed or foreign seal
        raise EscrowError(f"sealed master key does not open: {type(exc).__name__}") from None
