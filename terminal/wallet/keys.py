"""Event keys and per-card key diversification (NXP AN10922, AES-128).

Every card gets its own key derived from the event master key and the card's
UID, so one cracked wristband reveals nothing about the others. AN10922 pads
the diversification input to two AES blocks, which differs from plain CMAC for
short inputs, hence the explicit CMAC core here (checked against RFC 4493 and
against `cryptography`'s CMAC in the tests).
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
_RB = 0x87


def _aes_ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _shift_left(block: bytes) -> bytes:
    value = int.from_bytes(block, "big") << 1
    out = (value & ((1 << 128) - 1)).to_bytes(BLOCK, "big")
    if block[0] & 0x80:
        out = out[:-1] + bytes([out[-1] ^ _RB])
    return out


def cmac_subkeys(key: bytes) -> tuple[bytes, bytes]:
    """K1, K2 of NIST SP 800-38B."""
    k1 = _shift_left(_aes_ecb(key, bytes(BLOCK)))
    return k1, _shift_left(k1)


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _cbc_mac_last(key: bytes, blocks: bytes, last_mask: bytes) -> bytes:
    state = bytes(BLOCK)
    n = len(blocks) // BLOCK
    for i in range(n):
        block = blocks[i * BLOCK : (i + 1) * BLOCK]
        if i == n - 1:
            block = _xor(block, last_mask)
        state = _aes_ecb(key, _xor(state, block))
    return state


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """AES-CMAC (RFC 4493), full 16-byte tag."""
    k1, k2 = cmac_subkeys(key)
    if message and len(message) % BLOCK == 0:
        return _cbc_mac_last(key, message, k1)
    padded = message + b"\x80" + bytes((-len(message) - 1) % BLOCK)
    return _cbc_mac_last(key, padded, k2)


def diversify_an10922(master_key: bytes, uid: bytes, aid: bytes, system_id: bytes) -> bytes:
    """AES-128 key diversification of AN10922 §2.2: CMAC over 0x01 || UID || AID || SystemIdentifier."""
    if len(master_key) != 16:
        raise ValueError("AN10922 AES-128 needs a 16-byte master key")
    m = uid + aid + system_id
    if not 1 <= len(m) <= 31:
        raise ValueError("diversification input must be 1 to 31 bytes")
    d = b"\x01" + m
    k1, k2 = cmac_subkeys(master_key)
    if len(d) == 32:
        return _cbc_mac_last(master_key, d, k1)
    padded = d + b"\x80" + bytes(31 - len(d))
    return _cbc_mac_last(master_key, padded, k2)


# Purposes of keys derived from one card key; each gets its own AID-like label
# so that the password, the purse key and the header key never coincide.
PURSE_AID = bytes.fromhex("535031")  # "SP1"
PASSWORD_AID = bytes.fromhex("535050")  # "SPP"


def event_system_id(event_id: str) -> bytes:
    """The AN10922 system identifier for an event: binds card keys to it."""
    return hashlib.sha256(event_id.encode()).digest()[:8]


def event_tag(event_id: str) -> bytes:
    """4 bytes written on the card header so another event's card is named as such."""
    return hashlib.sha256(b"stallpay-event:" + event_id.encode()).digest()[:4]


def purse_key(master_key: bytes, uid: bytes, event_id: str) -> bytes:
    return diversify_an10922(master_key, uid, PURSE_AID, event_system_id(event_id))


def card_password(master_key: bytes, uid: bytes, event_id: str) -> tuple[bytes, bytes]:
    """NTAG PWD (4 bytes) and PACK (2 bytes) for this card."""
    k = diversify_an10922(master_key, uid, PASSWORD_AID, event_system_id(event_id))
    return k[:4], k[4:6]
