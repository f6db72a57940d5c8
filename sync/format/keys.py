"""Ed25519 keys for sync: the terminal's batch-signing key and the event's bundle-signing key.

The event key is derived from the event master key (HKDF) so that every terminal of
the event, and the collector holding the event keys, agree on it without another
secret to distribute; terminals only ever need its public half to verify bundles.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BUNDLE_LABEL = b"stallpay bundle signing"


def signing_key(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def event_signing_key(master_key: bytes, event_id: str) -> Ed25519PrivateKey:
    """The key bundles are signed with, derived from the event master key and bound to the event id."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=event_id.encode(), info=BUNDLE_LABEL).derive(master_key)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_hex(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def verify(public_key_hex: str, signature_hex: str, message: bytes) -> bool:
    """True when the signature is valid; any malformed key or signature is simply invalid."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
    except (ValueError, InvalidSignature):
        return False
    return True
