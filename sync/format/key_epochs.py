"""The `key_epoch` section of a bundle, as both sides see it: the band keys of every epoch, sealed to one terminal.

AES-256-GCM under the X25519 box key the collector shares with the terminal's `face_key` from pairing
(`sync.format.face_keys.box_key`, direction b"keys"); the associated data binds event, terminal and epoch, so
one terminal's section opens for no other. The collector makes it (`sync.collector.key_epochs`), the terminal
opens it from a signed bundle (`terminal.uplink.terminal_keys`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.format.event_keys import ROLE_KEYS
from sync.format.face_keys import SealError, box_key

MAX_EPOCH = 255
DIRECTION = b"keys"


def _aad(event_id: str, terminal_id: int, epoch: int) -> bytes:
    return f"stallpay key epoch|{event_id}|{terminal_id}|{epoch}".encode()


def seal_section(box: X25519PrivateKey, terminal_box: str, event_id: str, terminal_id: int, epoch: int,
                 band: dict[int, bytes], desfire: dict[int, dict[str, bytes]] | None = None) -> str:
    """Hex of nonce || AES-GCM(band keys by epoch, and the DESFire role keys of the terminal's mode) for one
    terminal."""
    plain = json.dumps({"band": {str(e): k.hex() for e, k in band.items()},
                        "desfire": {str(e): {r: k.hex() for r, k in roles.items()}
                                    for e, roles in (desfire or {}).items()}}).encode()
    nonce = os.urandom(12)
    key = box_key(box, terminal_box, event_id, terminal_id, DIRECTION)
    return (nonce + AESGCM(key).encrypt(nonce, plain, _aad(event_id, terminal_id, epoch))).hex()


def open_section(box: X25519PrivateKey, collector_box: str, event_id: str, terminal_id: int,
                 section: dict[str, Any]) -> dict[int, bytes]:
    """Terminal side: the band keys by epoch from a bundle's `key_epoch`; SealError when they do not open."""
    return open_section_keys(box, collector_box, event_id, terminal_id, section)[0]


def open_section_keys(box: X25519PrivateKey, collector_box: str, event_id: str, terminal_id: int,
                      section: dict[str, Any]) -> tuple[dict[int, bytes], dict[int, dict[str, bytes]]]:
    """The band keys by epoch and the DESFire role keys by epoch (only this terminal's roles)."""
    try:
        raw = bytes.fromhex(str(section["sealed"]))
        key = box_key(box, collector_box, event_id, terminal_id, DIRECTION)
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _aad(event_id, terminal_id, int(section["epoch"])))
        loaded = json.loads(plain)
        band = {int(e): bytes.fromhex(k) for e, k in loaded["band"].items()}
        desfire = {int(e): {str(r): bytes.fromhex(k) for r, k in dict(roles).items()}
                   for e, roles in dict(loaded.get("desfire", {})).items()}
    except (KeyError, TypeError, ValueError, InvalidTag, AttributeError):
        raise SealError("the bundle's key epoch does not open for this terminal") from None
    if any(len(k) != 16 or not 1 <= e <= MAX_EPOCH for e, k in band.items()):
        raise SealError("the bundle's key epoch holds malformed keys")
    if any(not 1 <= e <= MAX_EPOCH or any(r not in ROLE_KEYS or len(k) != 16 for r, k in roles.items())
           for e, roles in desfire.items()):
        raise SealError("the bundle's key epoch holds malformed DESFire keys")
    return band, desfire


AMK_DIRECTION = b"amk"


def _amk_aad(event_id: str, terminal_id: int, card_id: int, epoch: int) -> bytes:
    return f"stallpay card amk|{event_id}|{terminal_id}|{card_id}|{epoch}".encode()


def seal_card_amk(box: X25519PrivateKey, terminal_box: str, event_id: str, terminal_id: int, card_id: int,
                  epoch: int, amk: bytes) -> str:
    """A band's application master key on its way to one cashier terminal (hex nonce || AES-GCM)."""
    nonce = os.urandom(12)
    key = box_key(box, terminal_box, event_id, terminal_id, AMK_DIRECTION)
    return (nonce + AESGCM(key).encrypt(nonce, amk, _amk_aad(event_id, terminal_id, card_id, epoch))).hex()


def open_card_amk(box: X25519PrivateKey, collector_box: str, event_id: str, terminal_id: int, card_id: int,
                  epoch: int, sealed: str) -> bytes:
    """Terminal side of `seal_card_amk`; SealError when it does not open."""
    try:
        raw = bytes.fromhex(sealed)
        key = box_key(box, collector_box, event_id, terminal_id, AMK_DIRECTION)
        amk = AESGCM(key).decrypt(raw[:12], raw[12:], _amk_aad(event_id, terminal_id, card_id, epoch))
    except (TypeError, ValueError, InvalidTag):
        raise SealError("the card's master key does not open for this terminal") from None
    if len(amk) != 16:
        raise SealError("the card's master key is not 16 bytes")
    return amk
