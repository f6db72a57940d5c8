"""The sealed purse of an NTAG21x / Ultralight EV1 wristband: pure bytes in, bytes out.

The header (16 bytes: b"SP", version, product, event tag, card id, 4-byte MAC)
and the sealed records are bytes here; where they lie on the chip is the NTAG
driver's business (`terminal.nfc.ntag_purse`), which names each record's slot.

A record is sealed SIV-style (RFC 5297's idea, with AES-CMAC and AES-CTR): the
tag is the CMAC over the associated data (UID, event tag, card id, slot) and
the plaintext, truncated, and doubles as the CTR IV. Being deterministic it
stays safe when a torn write is retried with the same content, and any change
of the content changes the IV. Two record formats:

- compact (header version 2, and every new record on a version-1 band):
  24 bytes = 18 bytes of ciphertext + a 48-bit tag. Plaintext, big-endian:
  op (3 bits) | seq (21 bits), balance (24), comp (24), spent (24),
  time (32, Unix seconds), terminal (16). Domain b"SPR2". Any slot may hold
  any sequence; the slot is bound by the tag.
- legacy (version-1 bands, read only): 32 bytes = 24 bytes of ciphertext
  (seq, balance, spent, comp, time: 32 bits each; terminal 16; op, flags 8)
  + a 64-bit tag; domain b"SPR1"; slot = seq % (legacy slot count).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from enum import IntEnum

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from terminal.wallet.keys import event_tag

MAGIC = b"SP"
VERSION = 2  # headers written now: compact records only
LEGACY_VERSION = 1  # headers of bands issued before: legacy and compact records
# the same two with the key epoch in the header (`terminal.wallet.epochs`): compact, and legacy-capable
EPOCH_VERSION, EPOCH_LEGACY_VERSION = 3, 4
LEGACY_BYTES, LEGACY_TAG = 32, 8
COMPACT_BYTES, COMPACT_TAG = 24, 6
_RECORD = struct.Struct(">IIIIIHBB")  # seq, balance, spent, comp, time, terminal, op, flags
_COMPACT = struct.Struct(">3s3s3s3sIH")  # op|seq, balance, comp, spent, time, terminal
U24, SEQ_MAX = 0xFFFFFF, 0x1FFFFF
assert _RECORD.size + LEGACY_TAG == LEGACY_BYTES and _COMPACT.size + COMPACT_TAG == COMPACT_BYTES

PRODUCTS = {"NTAG213": 1, "NTAG215": 2, "NTAG216": 3, "MF0UL21": 4}


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
    version: int = VERSION
    epoch: int = 0  # the key epoch the band was last moved to (`terminal.wallet.epochs`); 0 in versions 1 and 2

    @property
    def legacy(self) -> bool:
        """A band issued before the compact format: its legacy records stay readable."""
        return self.version in (LEGACY_VERSION, EPOCH_LEGACY_VERSION)


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

    def pack_compact(self) -> bytes:
        """The 18-byte compact plaintext; ValueError when a field does not fit it."""
        if not 0 <= self.seq <= SEQ_MAX:
            raise ValueError(f"sequence {self.seq} does not fit the compact record")
        for name in ("balance", "comp", "spent"):
            if not 0 <= getattr(self, name) <= U24:
                raise ValueError(f"{name} {getattr(self, name)} does not fit the compact record")
        if not 0 <= self.time <= 0xFFFFFFFF or not 0 <= self.terminal <= 0xFFFF or self.flags:
            raise ValueError("time, terminal or flags do not fit the compact record")
        u24 = lambda v: v.to_bytes(3, "big")  # noqa: E731
        return _COMPACT.pack(u24(int(self.op) << 21 | self.seq), u24(self.balance), u24(self.comp), u24(self.spent),
                             self.time, self.terminal)

    @classmethod
    def unpack_compact(cls, raw: bytes) -> Record:
        head, balance, comp, spent, time, terminal = _COMPACT.unpack(raw)
        first = int.from_bytes(head, "big")
        try:
            kind = Op(first >> 21)
        except ValueError:
            raise PurseFormatError(f"unknown operation {first >> 21} in record") from None
        return cls(first & SEQ_MAX, int.from_bytes(balance, "big"), int.from_bytes(spent, "big"),
                   int.from_bytes(comp, "big"), time, terminal, kind)

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


def _associated(domain: bytes, uid: bytes, header: Header, slot: int) -> bytes:
    return domain + bytes([len(uid)]) + uid + header.event_tag + struct.pack(">IB", header.card_id, slot)


def seal(keys: PurseKeys, uid: bytes, header: Header, record: Record, slot: int) -> bytes:
    """The 24 compact bytes for `slot`; ValueError when the record does not fit the compact format."""
    plain = record.pack_compact()
    tag = keys.mac(_associated(b"SPR2", uid, header, slot) + plain)[:COMPACT_TAG]
    return keys.ctr(tag, plain) + tag


def seal_legacy(keys: PurseKeys, uid: bytes, header: Header, record: Record, slots: int) -> bytes:
    """The 32 bytes a version-1 band held in slot `seq % slots` (kept to test reading old bands)."""
    slot = record.seq % slots
    plain = record.pack()
    tag = keys.mac(_associated(b"SPR1", uid, header, slot) + plain)[:LEGACY_TAG]
    return keys.ctr(tag, plain) + tag


def unseal(keys: PurseKeys, uid: bytes, header: Header, slot: int, raw: bytes) -> Record:
    if len(raw) != COMPACT_BYTES:
        raise PurseFormatError("slot has the wrong length")
    body, tag = raw[:-COMPACT_TAG], raw[-COMPACT_TAG:]
    plain = keys.ctr(tag, body)
    if not _equal(keys.mac(_associated(b"SPR2", uid, header, slot) + plain)[:COMPACT_TAG], tag):
        raise PurseFormatError(f"slot {slot} does not verify")
    return Record.unpack_compact(plain)


def unseal_legacy(keys: PurseKeys, uid: bytes, header: Header, slot: int, slots: int, raw: bytes) -> Record:
    if len(raw) != LEGACY_BYTES:
        raise PurseFormatError("slot has the wrong length")
    body, tag = raw[:-LEGACY_TAG], raw[-LEGACY_TAG:]
    plain = keys.ctr(tag, body)
    if not _equal(keys.mac(_associated(b"SPR1", uid, header, slot) + plain)[:LEGACY_TAG], tag):
        raise PurseFormatError(f"legacy slot {slot} does not verify")
    record = Record.unpack(plain)
    if record.seq % slots != slot:
        raise PurseFormatError(f"legacy slot {slot} holds a record that belongs elsewhere")
    return record


def _equal(a: bytes, b: bytes) -> bool:
    from hmac import compare_digest

    return compare_digest(a, b)


def encode_header(keys: PurseKeys, uid: bytes, header: Header) -> bytes:
    body = (MAGIC + bytes([header.version, PRODUCTS[header.product]]) + header.event_tag
            + struct.pack(">I", header.card_id))
    return body + keys.mac(b"SPH1" + bytes([len(uid)]) + uid + body)[:4]


def peek_header(raw: bytes) -> tuple[bytes, int, str, int] | None:
    """(event tag, card id, product, version) from an unverified header, or None for a card that is not ours.

    Lets the terminal name "card of another event" or "blank card" before it
    can check any MAC.
    """
    if len(raw) < 16 or raw[:2] != MAGIC:
        return None
    if raw[2] not in (VERSION, LEGACY_VERSION):
        return None
    product = next((name for name, code in PRODUCTS.items() if code == raw[3]), None)
    if product is None:
        return None
    return raw[4:8], struct.unpack(">I", raw[8:12])[0], product, raw[2]


def decode_header(keys: PurseKeys, uid: bytes, raw: bytes) -> Header:
    peeked = peek_header(raw)
    if peeked is None:
        raise PurseFormatError("no StallPay header")
    tag, card_id, product, version = peeked
    expected = keys.mac(b"SPH1" + bytes([len(uid)]) + uid + raw[:12])[:4]
    if not _equal(expected, raw[12:16]):
        raise PurseFormatError("header does not verify for this card")
    return Header(product=product, event_tag=tag, card_id=card_id, version=version)


def new_header(product: str, event_id: str, card_id: int) -> Header:
    if product not in PRODUCTS:
        raise PurseFormatError(f"{product} is too small for a purse")
    return Header(product=product, event_tag=event_tag(event_id), card_id=card_id)
