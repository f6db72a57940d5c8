"""ATRs as an ACR122U-class reader reports them through PC/SC.

Storage cards (MIFARE Ultralight family, Classic) get the PC/SC part 3
synthetic ATR with a card name; ISO-DEP cards get `3B 8n 80 01` followed by
their historical bytes. The driver tells the families apart by these bytes,
so the emulators must build them exactly.
"""

from __future__ import annotations

from functools import reduce

CARD_NAME_CLASSIC_1K = b"\x00\x01"
CARD_NAME_ULTRALIGHT = b"\x00\x03"  # whole Ultralight family, NTAG21x included


def _with_tck(body: bytes) -> bytes:
    """TCK is the XOR of T0..the last historical byte (everything after TS)."""
    return body + bytes([reduce(lambda a, b: a ^ b, body[1:], 0)])


def storage_card_atr(card_name: bytes) -> bytes:
    """PC/SC part 3 ATR: RID A0 00 00 03 06, standard 03 (ISO 14443 A part 3), card name, 4 RFU bytes."""
    if len(card_name) != 2:
        raise ValueError("card name is two bytes")
    return _with_tck(bytes.fromhex("3B8F8001804F0CA000000306") + b"\x03" + card_name + bytes(4))


def iso_dep_atr(historical: bytes) -> bytes:
    """ATR of an ISO 14443-4 (ISO-DEP) card: historical bytes from the ATS, up to 15."""
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    return _with_tck(bytes([0x3B, 0x80 | len(historical), 0x80, 0x01]) + historical)
