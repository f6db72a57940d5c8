"""Cards that are not wristbands of ours, as an ACR122U presents them.

They exist so that the driver's refusal is tested against what a real reader
shows: a MIFARE Classic (storage-card ATR, card name 00 01, no GET_VERSION),
a contactless bank card (ISO-DEP ATR, SELECT of an unknown AID gives 6A 82)
and a phone doing host card emulation (ISO-DEP ATR without historical bytes).
Every one records whether anything tried to write to it.
"""

from __future__ import annotations

import os

from terminal.nfc.emulator.atr import CARD_NAME_CLASSIC_1K, iso_dep_atr, storage_card_atr
from terminal.nfc.errors import CardRemoved

SW_OK = b"\x90\x00"
SW_FAILED = b"\x63\x00"
SW_NOT_SUPPORTED = b"\x6a\x81"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_WRONG_LENGTH = b"\x67\x00"
DIRECT_TIMEOUT = b"\xd5\x43\x01" + SW_OK


class _ForeignCard:
    """Shared behaviour: UID via FF CA, no answer to Type 2 tag commands, writes counted and refused."""

    atr: bytes = b""

    def __init__(self, uid: bytes | None = None) -> None:
        self.uid = bytes(uid) if uid is not None else b"\x08" + os.urandom(3)
        self.commands = 0
        self.write_attempts = 0
        self.in_field = True

    def power_on(self) -> None:
        self.in_field = True

    def leave_field(self) -> None:
        self.in_field = False

    def transmit(self, apdu: bytes) -> bytes:
        if not self.in_field:
            raise CardRemoved("card left the field")
        apdu = bytes(apdu)
        self.commands += 1
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        if apdu[0] == 0xFF:
            return self._pseudo(apdu)
        return self._iso(apdu)

    def _pseudo(self, apdu: bytes) -> bytes:
        ins = apdu[1]
        if ins == 0xCA and apdu[2:4] == b"\x00\x00":
            return self.uid + SW_OK
        if ins == 0xD6:
            self.write_attempts += 1
            return SW_FAILED
        if ins == 0x00 and apdu[2:4] == b"\x00\x00" and len(apdu) > 7 and apdu[5:7] == b"\xd4\x42":
            if apdu[7] in (0xA2, 0xA0, 0xA5):
                self.write_attempts += 1
            return DIRECT_TIMEOUT  # no Type 2 tag here to answer
        return SW_FAILED if ins == 0xB0 else SW_NOT_SUPPORTED

    def _iso(self, apdu: bytes) -> bytes:
        return SW_NOT_SUPPORTED


class ClassicEmulator(_ForeignCard):
    """MIFARE Classic 1K: 4-byte UID, PC/SC storage-card ATR with card name 00 01."""

    def __init__(self, uid: bytes | None = None) -> None:
        super().__init__(uid if uid is not None else os.urandom(4))
        self.atr = storage_card_atr(CARD_NAME_CLASSIC_1K)


class BankCardEmulator(_ForeignCard):
    """A contactless EMV card: ISO-DEP, answers SELECT with 6A 82 (application not found)."""

    HISTORICAL = bytes.fromhex("80318065b0831100c883009000")

    def __init__(self, uid: bytes | None = None) -> None:
        super().__init__(uid)
        self.atr = iso_dep_atr(self.HISTORICAL)

    def _iso(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xA4:  # SELECT
            return SW_FILE_NOT_FOUND
        if apdu[1] in (0xD6, 0xDA, 0xDC, 0xE2):
            self.write_attempts += 1
        return b"\x6d\x00"  # INS not supported


class PhoneEmulator(_ForeignCard):
    """A phone doing host card emulation: ISO-DEP with no historical bytes, random UID each tap."""

    def __init__(self, uid: bytes | None = None) -> None:
        super().__init__(uid)
        self.atr = iso_dep_atr(b"")

    def power_on(self) -> None:
        super().power_on()
        self.uid = b"\x08" + os.urandom(3)

    def _iso(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xA4:
            return SW_FILE_NOT_FOUND
        if apdu[1] in (0xD6, 0xDA, 0xDC, 0xE2):
            self.write_attempts += 1
        return b"\x6d\x00"
