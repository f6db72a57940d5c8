"""Keys and sealing for face data that travels between terminals and the collector.

Enrollment uploads are sealed with AES-256-GCM under the *gallery transport
key*, derived from the event master key with HKDF. Templates going *to*
terminals (bundles, USB) are sealed per receiving terminal under a *box key*:
HKDF of the X25519 shared secret between the collector's box key and the
terminal's box key (its public half registered at pairing; its private half
derived from the terminal's signing key and the board's device secret, never
stored). A terminal can open only what was sealed for it; another terminal's
bundle, captured or replayed, does not open. The account id and the event id are the associated data, so a
sealed template cannot be moved to another account or event. The phone digits
(second factor) ride only inside an enrollment upload; the collector keeps a
slow keyed hash of them and checks typed digits online. Templates sent to
terminals carry no digits (only a flag that the collector can check them) and
the wristband UID only as a salted slow hash (`band_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TRANSPORT_LABEL = b"stallpay gallery transport v1"
BOX_LABEL = b"stallpay gallery box v1"
PHONE_LABEL = b"stallpay face phone digits v1"
MAX_DIM = 4096


class SealError(Exception):
    """A sealed template that cannot be opened (other event's key, tampered, or not a template)."""


def transport_key(master_key: bytes, event_id: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=event_id.encode(), info=TRANSPORT_LABEL).derive(master_key)


def box_private(seed: bytes) -> X25519PrivateKey:
    """An X25519 key derived from secret seed material (terminal: signing key + device secret)."""
    return X25519PrivateKey.from_private_bytes(
        HKDF(algorithm=hashes.SHA256(), length=32, salt=BOX_LABEL, info=b"x25519").derive(seed))


def box_public(private: X25519PrivateKey) -> str:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def box_key(private: X25519PrivateKey, peer_public: str, event_id: str, terminal_id: int,
            direction: bytes = b"down") -> bytes:
    """The AES key templates for `terminal_id` are sealed with (same on both ends); SealError for a bad peer key.
    `direction`: b"down" for bundles to the terminal, b"up" for its enrollment uploads to the collector."""
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(peer_public)))
    except (ValueError, TypeError):
        raise SealError("not an X25519 public key") from None
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=event_id.encode(),
                info=BOX_LABEL + b"|terminal %d|" % terminal_id + direction).derive(shared)


def phone_hash(master_key: bytes, event_id: str, account_id: str, digits: str) -> str:
    """Keyed hash of the phone's last digits, so the collector can check them at a desk without storing them."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=event_id.encode(), info=PHONE_LABEL).derive(master_key)
    return hmac.new(key, f"{account_id}|{digits}".encode(), hashlib.sha256).hexdigest()


BAND_DIGEST_N = 2**13  # scrypt cost: ~30 ms per check on a laptop; a second factor checks a handful of candidates


def band_digest(uid_hex: str, salt: bytes | None = None) -> str:
    """A wristband UID as kept at rest and sent to terminals: `b1$salt$scrypt(uid)`. Salted per record and slow, so
    a stolen gallery does not give the UIDs back by trying the ~2^48 a maker's UIDs span; a tapped band is checked
    against it (`band_matches`). Empty for no band; an already hashed value is kept as it is."""
    uid = uid_hex.strip().lower()
    if not uid or uid.startswith("b1$"):
        return uid
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(uid.encode(), salt=salt, n=BAND_DIGEST_N, r=8, p=1, dklen=32)
    return f"b1${salt.hex()}${digest.hex()}"


def band_matches(stored: str, uid_hex: str) -> bool:
    """Does the tapped band `uid_hex` match what was stored (a `band_digest`, or a clear UID of older records)."""
    uid = uid_hex.strip().lower()
    if not stored or not uid:
        return False
    if not stored.startswith("b1$"):
        return hmac.compare_digest(stored.encode(), uid.encode())
    try:
        _, salt, _ = stored.split("$")
        return hmac.compare_digest(band_digest(uid, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


def _aad(event_id: str, account_id: str) -> bytes:
    return b"stallpay-face-transport|" + event_id.encode() + b"|" + account_id.encode()


def seal_template(key: bytes, event_id: str, account_id: str, template: Sequence[float], *, phone_digits: str = "",
                  wristband_uid: str = "", phone_online: bool = False) -> str:
    """Hex of nonce || AES-GCM(dim, float32 template, factors JSON). `phone_online`: the collector holds phone
    digits for this account and checks them when asked (`POST /api/v1/face/phone-check`); the digits themselves
    are sealed only in enrollment uploads, never in what goes to terminals."""
    values = [float(v) for v in template]
    if not 0 < len(values) <= MAX_DIM:
        raise ValueError(f"a template has 1..{MAX_DIM} values")
    factors: dict[str, object] = {"phone": phone_digits, "band": wristband_uid.lower()}
    if phone_online:
        factors["online"] = True
    meta = json.dumps(factors).encode()
    plain = struct.pack("<H", len(values)) + struct.pack(f"<{len(values)}f", *values) + meta
    nonce = os.urandom(12)
    return (nonce + AESGCM(key).encrypt(nonce, plain, _aad(event_id, account_id))).hex()


def open_template(key: bytes, event_id: str, account_id: str, sealed_hex: str) -> dict:
    """{"template": tuple of floats, "phone_digits", "wristband_uid"}; SealError when it does not open."""
    try:
        sealed = bytes.fromhex(sealed_hex)
        plain = AESGCM(key).decrypt(sealed[:12], sealed[12:], _aad(event_id, account_id))
        (dim,) = struct.unpack_from("<H", plain)
        template = struct.unpack_from(f"<{dim}f", plain, 2)
        meta = json.loads(plain[2 + 4 * dim:])
        return {"template": tuple(template), "phone_digits": str(meta.get("phone", "")),
                "wristband_uid": str(meta.get("band", "")), "phone_online": meta.get("online") is True}
    except (ValueError, TypeError, InvalidTag, struct.error, AttributeError):
        raise SealError(f"sealed template for {account_id!r} does not open with this event's transport key") from None
