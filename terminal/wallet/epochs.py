"""Key epochs of the NTAG tier: which event key sealed a band, and moving a band to the newest one.

After a terminal is stolen the collector starts a new epoch (`stallpay collector rotate-keys`): a new band
master key that only the terminals still paired receive, sealed to each of them in their bundle. A band
records the epoch that sealed it in its header (version 2: 3 bytes of event tag, then the epoch byte). A
terminal of epoch n reads bands of every epoch it holds, and at the band's next write (sale, top-up, void,
close) moves it to epoch n before writing: new password, new header, every history slot re-sealed, then the
operation's record. From then on the stolen terminal's key neither opens a record nor passes PWD_AUTH.

Every step leaves a band that a terminal holding both epochs reads: a slot is valid under either key, and
the header is authenticated by its MAC page alone (`decode_header`: the canonical header of each known epoch
is rebuilt from the card id and product, and the one whose MAC the card holds wins), so a header torn between
its page writes still verifies as the old or the new epoch. The one state a reader cannot see is a password
changed but the header not yet: the first tap's PWD_AUTH fails (the chip halts), the refusal is journaled as
`rekey_interrupted`, and the next tap at this terminal authenticates with the new password.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace
from hmac import compare_digest

from terminal.wallet.keys import card_password, event_tag, purse_key
from terminal.wallet.purse import (
    FIRST_SLOT_PAGE,
    MAGIC,
    PRODUCTS,
    SLOT_BYTES,
    SLOT_PAGES,
    Header,
    PurseFormatError,
    PurseImage,
    PurseKeys,
    Record,
    seal,
    unseal,
)

VERSION_EPOCH = 2  # header version that carries the epoch
MAX_EPOCH = 255


@dataclass(frozen=True)
class BandKeys:
    """The band master keys this terminal holds, by epoch, and the one it writes with."""

    event_id: str
    masters: Mapping[int, bytes]
    current: int = 0
    old_until: int = 0  # unix time after which bands of an older epoch are refused (0 = never)

    def __post_init__(self) -> None:
        if self.current not in self.masters:
            raise ValueError(f"no band key for the current epoch {self.current}")
        if not all(0 <= e <= MAX_EPOCH for e in self.masters):
            raise ValueError(f"epochs are 0..{MAX_EPOCH}")

    @classmethod
    def single(cls, master_key: bytes, event_id: str) -> BandKeys:
        return cls(event_id=event_id, masters={0: master_key})

    def purse(self, epoch: int, uid: bytes) -> PurseKeys:
        return PurseKeys(purse_key(self.masters[epoch], uid, self.event_id))

    def password(self, epoch: int, uid: bytes) -> tuple[bytes, bytes]:
        return card_password(self.masters[epoch], uid, self.event_id)

    def newest_first(self) -> list[int]:
        return sorted(self.masters, reverse=True)


def header_body(header: Header) -> bytes:
    """12 bytes before the MAC: version 1 (epoch 0, 4-byte event tag) or 2 (3-byte tag + epoch byte)."""
    if header.epoch == 0:
        return MAGIC + bytes([1, PRODUCTS[header.product]]) + header.event_tag + struct.pack(">I", header.card_id)
    return (MAGIC + bytes([VERSION_EPOCH, PRODUCTS[header.product]]) + header.event_tag[:3]
            + bytes([header.epoch]) + struct.pack(">I", header.card_id))


def header_mac(band: BandKeys, uid: bytes, header: Header, key_epoch: int, *, legacy: bool = False) -> bytes:
    """The MAC page. Version 2 leaves the version and epoch bytes out, so a re-key never rewrites it: a page
    written halfway (the chip writes 4-byte pages, but a pulled band may keep part of one) cannot spoil it.
    It is keyed by the epoch the band was issued in; `legacy`: a version-1 header's MAC over its whole body."""
    keys = band.purse(key_epoch, uid)
    if legacy:
        return keys.mac(b"SPH1" + bytes([len(uid)]) + uid + header_body(replace(header, epoch=0)))[:4]
    covered = MAGIC + bytes([PRODUCTS[header.product]]) + header.event_tag[:3] + struct.pack(">I", header.card_id)
    return keys.mac(b"SPH2" + bytes([len(uid)]) + uid + covered)[:4]


def encode_header(band: BandKeys, uid: bytes, header: Header) -> bytes:
    """A new band's header, issued in `header.epoch` (epoch 0 keeps the version-1 layout and MAC)."""
    return header_body(header) + header_mac(band, uid, header, header.epoch, legacy=header.epoch == 0)


def peek(raw: bytes) -> tuple[bytes, int, str, int] | None:
    """(first 3 bytes of the event tag, card id, product, epoch byte) or None (not ours). A re-key writes the
    epoch page before the version page, so a version-2 header never shows a version-1 tag byte as its epoch."""
    if len(raw) < 16 or raw[:2] != MAGIC or raw[2] not in (1, VERSION_EPOCH):
        return None
    product = next((name for name, code in PRODUCTS.items() if code == raw[3]), None)
    if product is None:
        return None
    card_id = struct.unpack(">I", raw[8:12])[0]
    return raw[4:7], card_id, product, raw[7] if raw[2] == VERSION_EPOCH else 0


def decode_header(band: BandKeys, uid: bytes, raw: bytes) -> Header:
    """The header (epoch = its epoch byte), authenticated by its MAC page under any known epoch's key."""
    peeked = peek(raw)
    if peeked is None:
        raise PurseFormatError("no StallPay header")
    _tag, card_id, product, epoch = peeked
    header = Header(product=product, event_tag=event_tag(band.event_id), card_id=card_id, epoch=epoch)
    for key_epoch in band.newest_first():
        for legacy in (False, True) if key_epoch == 0 else (False,):
            if compare_digest(header_mac(band, uid, header, key_epoch, legacy=legacy), raw[12:16]):
                return header
    raise PurseFormatError("header does not verify for this card")


def header_pages(band: BandKeys, uid: bytes, header: Header) -> list[tuple[int, bytes]]:
    """What a re-key writes of the header, in order: the epoch page, then the version page (never the MAC)."""
    body = header_body(replace(header, epoch=band.current))
    return [(1, body[4:8]), (0, body[0:4])]


def newest_epoch(band: BandKeys, uid: bytes, header: Header, pages: bytes) -> int:
    """The epoch that sealed the band's newest record (what decides whether it is still an old-epoch band)."""
    found = slot_epochs(band, uid, header, pages).values()
    return max(found, key=lambda f: f[0].seq)[1] if found else header.epoch


def slot_epochs(band: BandKeys, uid: bytes, header: Header, pages: bytes) -> dict[int, tuple[Record, int]]:
    """Each valid slot's record and the epoch that sealed it (epochs up to the header's, newest first)."""
    found: dict[int, tuple[Record, int]] = {}
    for slot in range(header.slots):
        start = (FIRST_SLOT_PAGE + slot * SLOT_PAGES) * 4
        raw = pages[start: start + SLOT_BYTES]
        for epoch in band.newest_first():
            try:
                found[slot] = (unseal(band.purse(epoch, uid), uid, header, slot, raw), epoch)
                break
            except PurseFormatError:
                continue
    return found


def parse_image(band: BandKeys, uid: bytes, header: Header, pages: bytes) -> PurseImage:
    """As `purse.parse_image`, each slot under whichever known epoch sealed it."""
    found = slot_epochs(band, uid, header, pages)
    if not found:
        raise PurseFormatError("no valid purse record on the card")
    records = sorted((r for r, _e in found.values()), key=lambda r: r.seq, reverse=True)
    invalid = tuple(s for s in range(header.slots) if s not in found)
    return PurseImage(header=header, records=tuple(records), invalid_slots=invalid)


def reseals(band: BandKeys, uid: bytes, header: Header, pages: bytes) -> list[tuple[int, bytes]]:
    """(first page, sealed bytes) for every valid slot not yet sealed under the current epoch, except the newest
    record's: overwriting it in place, torn, would leave the band showing the state before it. It is re-sealed
    once the operation's new record has landed in another slot."""
    moved = replace(header, epoch=band.current)
    found = slot_epochs(band, uid, header, pages)
    newest = max((r.seq for r, _e in found.values()), default=-1)
    out = []
    for slot, (record, epoch) in sorted(found.items()):
        if epoch != band.current and record.seq != newest:
            out.append((FIRST_SLOT_PAGE + slot * SLOT_PAGES, seal(band.purse(band.current, uid), uid, moved, record)))
    return out


def sealed_forms(band: BandKeys, uid: bytes, header: Header, record: Record) -> list[bytes]:
    """The record's slot bytes under every known epoch: a band re-sealed elsewhere is not a clone."""
    return [seal(band.purse(e, uid), uid, header, record) for e in band.newest_first()]
