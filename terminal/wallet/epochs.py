"""Key epochs of the NTAG tier: which event key sealed a band, and moving a band to the newest one.

After a terminal is stolen the collector starts a new epoch (`stallpay collector rotate-keys`): a new band
master key that only the terminals still paired receive, sealed to each of them in their bundle. A band
records the epoch it was moved to in its header (versions 3 and 4: 3 bytes of event tag, then the epoch
byte). A terminal of epoch n reads bands of every epoch it holds, and at the band's next write moves it to
epoch n: new password, epoch page, version page, then the operation's record, then every other record
re-sealed in place. From then on the stolen terminal's key neither opens a record nor passes PWD_AUTH.

Every step leaves a band that a terminal holding both epochs reads: a slot is valid under either key, and
the header is authenticated by its MAC page alone, which a move never rewrites (`decode_header` rebuilds the
canonical header from the card id, product and event, and tries each known epoch's key), so a header torn
between its page writes still verifies. The one state a reader cannot see is a password changed (or torn
part-way) but the header not yet: PWD_AUTH fails (the chip halts), the refusal is journaled as
`rekey_interrupted`, and the next taps at that terminal try the new password, then the part-written mixes
(`ntag_ops.NtagOps._auth_password`). The first write of a band in a new epoch costs 4 exchanges more than a
sale plus 6 per older record re-sealed (36 on an NTAG215 with all five slots full); the next sale is 8 again.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace
from hmac import compare_digest
from typing import Any

from terminal.nfc.ntag_purse import COMPACT, LEGACY, SLOT_COUNTS, PurseImage, SlotRef, slots
from terminal.wallet.keys import card_password, event_tag, purse_key
from terminal.wallet.purse import (
    EPOCH_LEGACY_VERSION,
    EPOCH_VERSION,
    LEGACY_VERSION,
    MAGIC,
    PRODUCTS,
    VERSION,
    Header,
    PurseFormatError,
    PurseKeys,
    Record,
    seal,
    seal_legacy,
    unseal,
    unseal_legacy,
)

MAX_EPOCH = 255
VERSIONS = (LEGACY_VERSION, VERSION, EPOCH_VERSION, EPOCH_LEGACY_VERSION)
_MOVED = {VERSION: EPOCH_VERSION, LEGACY_VERSION: EPOCH_LEGACY_VERSION}  # what a move makes of each version
_ORIGIN = {EPOCH_VERSION: VERSION, EPOCH_LEGACY_VERSION: LEGACY_VERSION}


@dataclass(frozen=True)
class BandKeys:
    """The band master keys this terminal holds, by epoch, and the one it writes with."""

    event_id: str
    masters: Mapping[int, bytes]
    current: int = 0
    old_until: int = 0  # unix time after which bands still in an older epoch are refused (0 = never)

    def __post_init__(self) -> None:
        if self.current not in self.masters:
            raise ValueError(f"no band key for the current epoch {self.current}")
        if not all(0 <= e <= MAX_EPOCH for e in self.masters):
            raise ValueError(f"epochs are 0..{MAX_EPOCH}")

    @classmethod
    def single(cls, master_key: bytes, event_id: str) -> BandKeys:
        return cls(event_id=event_id, masters={0: master_key})

    @classmethod
    def of(cls, keys: Any) -> BandKeys:
        """From a loaded key file (`EventKeys`): [event] master_key is epoch 0, [epochs] the later ones."""
        return cls(event_id=keys.event_id, masters=keys.band_masters(), current=keys.epoch, old_until=keys.old_until)

    def purse(self, epoch: int, uid: bytes) -> PurseKeys:
        return PurseKeys(purse_key(self.masters[epoch], uid, self.event_id))

    def password(self, epoch: int, uid: bytes) -> tuple[bytes, bytes]:
        return card_password(self.masters[epoch], uid, self.event_id)

    def newest_first(self) -> list[int]:
        return sorted(self.masters, reverse=True)


# --- the header ------------------------------------------------------------------------------------------------


def header_body(header: Header) -> bytes:
    """The 12 bytes before the MAC: versions 1 and 2 carry the 4-byte event tag, 3 and 4 three bytes + the epoch."""
    tag = header.event_tag if header.version in (LEGACY_VERSION, VERSION) else header.event_tag[:3] + bytes(
        [header.epoch])
    return MAGIC + bytes([header.version, PRODUCTS[header.product]]) + tag + struct.pack(">I", header.card_id)


def _mac_v1(keys: PurseKeys, uid: bytes, header: Header, version: int) -> bytes:
    body = header_body(replace(header, version=version, epoch=0))
    return keys.mac(b"SPH1" + bytes([len(uid)]) + uid + body)[:4]


def _mac_v2(keys: PurseKeys, uid: bytes, header: Header) -> bytes:
    """Versions 3 and 4 issued in an epoch: the MAC leaves out the version and epoch bytes, so a move to a later
    epoch never rewrites it."""
    covered = MAGIC + bytes([PRODUCTS[header.product]]) + header.event_tag[:3] + struct.pack(">I", header.card_id)
    return keys.mac(b"SPH2" + bytes([len(uid)]) + uid + covered)[:4]


def issued(band: BandKeys, header: Header) -> Header:
    """A new band's header in the current epoch: version 2 in epoch 0 (as before epochs), else version 3."""
    return replace(header, version=VERSION if band.current == 0 else EPOCH_VERSION, epoch=band.current)


def encode_header(band: BandKeys, uid: bytes, header: Header) -> bytes:
    """The 16 bytes of a header made by `issued`."""
    if header.version == VERSION:
        return header_body(header) + _mac_v1(band.purse(0, uid), uid, header, VERSION)
    if header.version != EPOCH_VERSION:
        raise ValueError("new bands get a header of version 2 or 3")
    return header_body(header) + _mac_v2(band.purse(header.epoch, uid), uid, header)


def peek(raw: bytes) -> tuple[bytes, int, str, int, int] | None:
    """(first 3 bytes of the event tag, card id, product, version, epoch) of an unverified header, or None (not
    ours). A move writes the epoch page before the version page, so a header of version 3 or 4 always shows
    its epoch; a version 1 or 2 header torn after its epoch page reads as epoch 0."""
    if len(raw) < 16 or raw[:2] != MAGIC or raw[2] not in VERSIONS:
        return None
    product = next((name for name, code in PRODUCTS.items() if code == raw[3]), None)
    if product is None:
        return None
    card_id = struct.unpack(">I", raw[8:12])[0]
    return raw[4:7], card_id, product, raw[2], raw[7] if raw[2] in _ORIGIN else 0


def decode_header(band: BandKeys, uid: bytes, raw: bytes) -> Header:
    """The header, authenticated by its MAC page under any known epoch's key."""
    peeked = peek(raw)
    if peeked is None:
        raise PurseFormatError("no StallPay header")
    _tag, card_id, product, version, epoch = peeked
    header = Header(product=product, event_tag=event_tag(band.event_id), card_id=card_id, version=version,
                    epoch=epoch)
    mac = raw[12:16]
    origin = _ORIGIN.get(version, version)
    if 0 in band.masters and compare_digest(_mac_v1(band.purse(0, uid), uid, header, origin), mac):
        return header
    if version in _ORIGIN:  # issued in an epoch, or moved since; the MAC is of the epoch it was issued in
        for key_epoch in band.newest_first():
            if compare_digest(_mac_v2(band.purse(key_epoch, uid), uid, header), mac):
                return header
    raise PurseFormatError("header does not verify for this card")


def header_pages(band: BandKeys, header: Header) -> list[tuple[int, bytes]]:
    """What a move writes of the header (page, 4 bytes), in order: the epoch page, then the version page; the
    MAC page never changes."""
    moved = replace(header, version=_MOVED.get(header.version, header.version), epoch=band.current)
    body = header_body(moved)
    return [(5, body[4:8]), (4, body[0:4])]


def moved(band: BandKeys, header: Header) -> Header:
    return replace(header, version=_MOVED.get(header.version, header.version), epoch=band.current)


# --- the records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """One valid record on the band: where it lies and the epoch whose key sealed it."""

    record: Record
    ref: SlotRef
    epoch: int


def parse_slots(band: BandKeys, header: Header, image: PurseImage, product: str) -> tuple[list[Found], list[SlotRef]]:
    """Every slot the header's version allows, each under whichever known epoch sealed it: the valid records
    newest first, and the other slots."""
    return parse_with([(e, band.purse(e, image.uid)) for e in band.newest_first()], header, image, product)


def parse_with(keys: list[tuple[int, PurseKeys]], header: Header, image: PurseImage,
               product: str) -> tuple[list[Found], list[SlotRef]]:
    """As `parse_slots`, with the purse keys of each epoch to try (newest first)."""
    formats = (LEGACY, COMPACT) if header.legacy else (COMPACT,)
    legacy_slots = SLOT_COUNTS[LEGACY][product]
    found: list[Found] = []
    invalid: list[SlotRef] = []
    for ref in slots(product, formats):
        raw = image.slot(ref)
        for epoch, k in keys:
            try:
                if ref.fmt == COMPACT:
                    record = unseal(k, image.uid, header, ref.index, raw)
                else:
                    record = unseal_legacy(k, image.uid, header, ref.index, legacy_slots, raw)
            except PurseFormatError:
                continue
            found.append(Found(record, ref, epoch))
            break
        else:
            invalid.append(ref)
    found.sort(key=lambda f: f.record.seq, reverse=True)
    return found, invalid


def sealed_in(keys: PurseKeys, uid: bytes, header: Header, record: Record, ref: SlotRef, product: str) -> bytes:
    if ref.fmt == COMPACT:
        return seal(keys, uid, header, record, ref.index)
    return seal_legacy(keys, uid, header, record, SLOT_COUNTS[LEGACY][product])


def sealed_forms(band: BandKeys, uid: bytes, header: Header, found: Found, product: str) -> list[bytes]:
    """The record's slot bytes under every known epoch: a band re-sealed at another terminal is not a clone."""
    return [sealed_in(band.purse(e, uid), uid, header, found.record, found.ref, product) for e in band.newest_first()]


def reseals(band: BandKeys, uid: bytes, header: Header, found: list[Found], written: SlotRef,
            product: str) -> list[tuple[SlotRef, bytes]]:
    """(slot, bytes) for every valid record not yet sealed under the current epoch, in place, except those the
    record just written (`written`) covers. Made after that record landed, so a tear here costs history only."""
    keys = band.purse(band.current, uid)
    return [(f.ref, sealed_in(keys, uid, header, f.record, f.ref, product)) for f in found
            if f.epoch != band.current and not f.ref.overlaps(written)]
