"""NXP originality signature (READ_SIG) of NTAG21x and Ultralight EV1.

The chip holds an ECDSA signature over its 7-byte UID on secp128r1, with no
hash (the UID itself is the message number), as r || s. A genuine NXP chip
verifies against NXP's published key for its family; a clone with a copied
UID cannot carry a valid signature for a UID it did not get from NXP. The
emulators sign with a key a test or a technician provides, and the driver
accepts such a key from configuration instead of NXP's.
"""

from __future__ import annotations

from typing import Any

import ecdsa
from ecdsa.util import sigdecode_string, sigencode_string

# NXP's published keys (uncompressed points: 04 || X || Y).
NXP_NTAG21X_PUBLIC_KEY = bytes.fromhex("04494E1A386D3D3CFE3DC10E5DE68A499B1C202DB5B132393E89ED19FE5BE8BC61")
NXP_ULTRALIGHT_EV1_PUBLIC_KEY = bytes.fromhex("0490933BDCD6E99B4E255E3DA55389A827564E11718E017292FAF23226A96614B8")

CURVE = ecdsa.SECP128r1


def nxp_public_key(product: str) -> bytes:
    """NXP's key for the chip family of `product` ("NTAG213".."NTAG216", "MF0UL11", "MF0UL21")."""
    if product.startswith("NTAG21"):
        return NXP_NTAG21X_PUBLIC_KEY
    if product.startswith("MF0UL"):
        return NXP_ULTRALIGHT_EV1_PUBLIC_KEY
    raise ValueError(f"no NXP originality key known for {product}")


def parse_public_key(key: bytes | str | ecdsa.VerifyingKey) -> ecdsa.VerifyingKey:
    """A secp128r1 public key from bytes or hex: raw X||Y, uncompressed (04..) or compressed (02/03..)."""
    if isinstance(key, ecdsa.VerifyingKey):
        return key
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key.strip())
        except ValueError as exc:
            raise ValueError("originality public key is not hex") from exc
    try:
        return ecdsa.VerifyingKey.from_string(bytes(key), curve=CURVE)
    except (ecdsa.MalformedPointError, ValueError) as exc:
        raise ValueError(f"not a secp128r1 public key ({len(key)} bytes)") from exc


def verify_originality(uid: bytes, signature: bytes, public_key: bytes | str | ecdsa.VerifyingKey) -> bool:
    """True when `signature` (32 bytes r||s) is the originality signature of `uid` under `public_key`."""
    if len(signature) != 32:
        return False
    verifier = parse_public_key(public_key)
    try:
        return bool(verifier.verify_digest(signature, bytes(uid), sigdecode=sigdecode_string, allow_truncate=True))
    except ecdsa.BadSignatureError:
        return False


def generate_signing_key() -> ecdsa.SigningKey:
    """A fresh secp128r1 key, for emulated cards and tests."""
    return ecdsa.SigningKey.generate(curve=CURVE)


def public_key_bytes(signing_key: ecdsa.SigningKey) -> bytes:
    """Uncompressed public point of a signing key (the form the configuration takes in hex)."""
    return signing_key.get_verifying_key().to_string("uncompressed")


def sign_originality(uid: bytes, signing_key: Any) -> bytes:
    """Signature an emulated chip returns on READ_SIG: `signing_key` is an ecdsa key or its 16 secret bytes."""
    if not isinstance(signing_key, ecdsa.SigningKey):
        signing_key = ecdsa.SigningKey.from_string(bytes(signing_key), curve=CURVE)
    return signing_key.sign_digest_deterministic(
        bytes(uid), sigencode=sigencode_string, allow_truncate=True
    )
