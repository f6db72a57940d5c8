"""The sealed purse on an NTAG21x / Ultralight EV1 wristband: pure bytes in, bytes out.

Layout from user page 4 (AUTH0 = 4, so every page of it needs the card's
diversified password to be written):

    pages 4..7    header: b"SP", version, product, event tag, card id, 4-byte MAC
    pages 8..     N slots of 8 pages (32 bytes), N = 4 on NTAG21x, 3 on MF0UL21

Each slot holds one sealed record. A write goes to slot `seq % N`, which is
the oldest one, so the newest record is never overwritten: a write torn at any
byte leaves either the old newest record or the new one valid, and the highest
valid sequence wins. The N slots double as the on-card history.

A record is 24 bytes of plaintext sealed SIV-style (RFC 5297's idea, with
AES-CMAC and AES-CTR, a 64-bit tag as DESFire uses): the tag is the CMAC over
the associated data (UID, event, card id, slot) and the plaintext, and doubles
as the CTR IV. Being deterministic it stays safe when a torn write is retried
with the same content, and any change of the content changes the IV.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from enum import IntEnum

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from terminal.wallet.keys import event_tag

MAGIC = b"SP"
VERSION = 1
USER_START = 4
HEADER_PAGES = 4
SLOT_PAGES = 8
SLOT_BYTES = SLOT_PAGES * 4
TAG_BYTES = 8
FIRST_SLOT_PAGE = USER_START + HEADER_PAGES
_RECORD = struct.Struct(">IIIIIHBB")  # seq, balance, spent, comp, time, terminal, op, flags
assert _RECORD.size + TAG_BYTES == SLOT_BYTES

PRODUCTS = {"NTAG213": 1, "NTAG215": 2, "NTAG216": 3, "MF0UL21": 4}
SLOTS = {"NTAG213": 4, "NTAG215": 4, "NTAG216": 4, "MF0UL21": 3}


class Op(IntEnum):
    ISSUE = 1
    TOPUP = 2
    SALE = 3
    VOID = 4
    CLOSE = 5
    REPLACE = 6
    CORRECT = 7


class PurseFormatError(Exception):
    """The bytes are not a record of ours, or were altered."""


@dataclass(frozen=True)
class Header:
    product: str
    event_tag: bytes
    card_id: int
    epoch: int = 0  # key epoch that sealed the band (terminal.wallet.epochs); 0 = version-1 header

    @property
    def slots(self) -> int:
        return SLOTS[self.product]

    @property
    def pages(self) -> int:
        """Pages from page 0 up to the end of the last slot: what one read must cover."""
        return FIRST_SLOT_PAGE + self.slots * SLOT_PAGES


@dataclass(frozen=True)
class Record:
    """One state of the purse. `comp` is the unspent complimentary credit, which is never refunded."""

    seq: int
    balance: int
    spent: int
    comp: int
    time: int
    terminal: int
    op: Op
    flags: int = 0

    def pack(self) -> bytes:
        for name in ("seq", "balance", "spent", "comp", "time"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError(f"{name} {value} does not fit the purse record")
        if not 0 <= self.terminal <= 0xFFFF:
            raise ValueError("terminal id out of range")
        return _RECORD.pack(self.seq, self.balance, self.spent, self.comp, self.time, self.terminal,
                            int(self.op), self.flags)

    @classmethod
    def unpack(cls, raw: bytes) -> Record:
        seq, balance, spent, comp, time, terminal, op, flags = _RECORD.unpack(raw)
        try:
            kind = Op(op)
        except ValueError:
            raise PurseFormatError(f"unknown operation {op} in record") from None
        return cls(seq, balance, spent, comp, time, terminal, kind, flags)

    @property
    def closed(self) -> bool:
        return self.op is Op.CLOSE

    @property
    def refundable(self) -> int:
        return self.balance - min(self.comp, self.balance)

    def next(self, op: Op, *, balance: int, spent: int | None = None, comp: int | None = None, time: int,
             terminal: int) -> Record:
        return replace(self, seq=self.seq + 1, balance=balance, spent=self.spent if spent is None else spent,
                       comp=self.comp if comp is None else comp, time=time, terminal=terminal, op=op, flags=0)


class PurseKeys:
    """Encryption and MAC keys of one card, both derived from its diversified purse key."""

    def __init__(self, card_key: bytes) -> None:
        enc = Cipher(algorithms.AES(card_key), modes.ECB()).encryptor()
        self.enc_key = enc.update(b"\x01" * 16)
        self.mac_key = enc.update(b"\x02" * 16) + enc.finalize()

    def mac(self, data: bytes) -> bytes:
        c = cmac.CMAC(algorithms.AES(self.mac_key))
        c.update(data)
        return c.finalize()

    def ctr(self, iv: bytes, data: bytes) -> bytes:
        c = Cipher(algorithms.AES(self.enc_key), modes.CTR(iv + bytes(16 - len(iv)))).encryptor()
        return c.update(data) + c.finalize()


def _associated(uid: bytes, header: Header, slot: int) -> bytes:
    return b"SPR1" + bytes([len(uid)]) + uid + header.event_tag + struct.pack(">IB", header.card_id, slot)


def seal(keys: PurseKeys, uid: bytes, header: Header, record: Record) -> bytes:
    """The 32 bytes written to the record's slot."""
    slot = record.seq % header.slots
    plain = record.pack()
    tag = keys.mac(_associated(uid, header, slot) + plain)[:TAG_BYTES]
    return keys.ctr(tag, plain) + tag


def unseal(keys: PurseKeys, uid: bytes, header: Header, slot: int, raw: bytes) -> Record:
    if len(raw) != SLOT_BYTES:
        raise PurseFormatError("slot has the wrong length")
    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    plain = keys.ctr(tag, body)
    expected = keys.mac(_associated(uid, header, slot) + plain)[:TAG_BYTES]
    if not _equal(expected, tag):
        raise PurseFormatError(f"slot {slot} does not verify")
    record = Record.unpack(plain)
    if record.seq % header.slots != slot:
        raise PurseFormatError(f"slot {slot} holds a record that belongs elsewhere")
    return record


def _equal(a: bytes, b: bytes) -> bool:
    from hmac import compare_digest

    return compare_digest(a, b)


def encode_header(keys: PurseKeys, uid: bytes, header: Header) -> bytes:
    body = MAGIC + bytes([VERSION, PRODUCTS[header.product]]) + header.event_tag + struct.pack(">I", header.card_id)
    return body + keys.mac(b"SPH1" + bytes([len(uid)]) + uid + body)[:4]


def peek_header(raw: bytes) -> tuple[bytes, int, str] | None:
    """(event tag, card id, product) from an unverified header, or None for a card that is not ours.

    Lets the terminal name "card of another event" or "blank card" before it
    can check any MAC.
    """
    if len(raw) < 16 or raw[:2] != MAGIC:
        return None
    if raw[2] != VERSION:
        return None
    product = next((name for name, code in PRODUCTS.items() if code == raw[3]), None)
    if product is None:
        return None
    return raw[4:8], struct.unpack(">I", raw[8:12])[0], product


def decode_header(keys: PurseKeys, uid: bytes, raw: bytes) -> Header:
    peeked = peek_header(raw)
    if peeked is None:
        raise PurseFormatError("no StallPay header")
    tag, card_id, product = peeked
    expected = keys.mac(b"SPH1" + bytes([len(uid)]) + uid + raw[:12])[:4]
    if not _equal(expected, raw[12:16]):
        raise PurseFormatError("header does not verify for this card")
    return Header(product=product, event_tag=tag, card_id=card_id)


@dataclass(frozen=True)
class PurseImage:
    """What a read of pages 0.. gave: the newest valid record and the history behind it."""

    header: Header
    records: tuple[Record, ...]  # valid records, newest first
    invalid_slots: tuple[int, ...]  # slots that did not verify (torn, blank or tampered)

    @property
    def current(self) -> Record:
        return self.records[0]


def parse_image(keys: PurseKeys, uid: bytes, header: Header, pages: bytes) -> PurseImage:
    """Verify every slot in a raw read (starting at page 0) and order the valid records."""
    records: list[Record] = []
    invalid: list[int] = []
    for slot in range(header.slots):
        start = (FIRST_SLOT_PAGE + slot * SLOT_PAGES) * 4
        try:
            records.append(unseal(keys, uid, header, slot, pages[start : start + SLOT_BYTES]))
        except PurseFormatError:
            invalid.append(slot)
    if not records:
        raise PurseFormatError("no valid purse record on the card")
    records.sort(key=lambda r: r.seq, reverse=True)
    return PurseImage(header=header, records=tuple(records), invalid_slots=tuple(invalid))


def slot_page(header: Header, seq: int) -> int:
    return FIRST_SLOT_PAGE + (seq % header.slots) * SLOT_PAGES


def new_header(product: str, event_id: str, card_id: int) -> Header:
    if product not in PRODUCTS:
        raise PurseFormatError(f"{product} is too small for a purse")
    return Header(product=product, event_tag=event_tag(event_id), card_id=card_id)
