"""The purse on an NTAG21x / Ultralight EV1 as pages: where the header and the record slots lie, one read,
the password, the one-way counter and the UID check. The wallet only hands sealed bytes and a slot to it.

Page map from user page 4 (AUTH0 = 4: writing any of it needs the card's password):

    pages 4..7     header (16 bytes, sealed by the wallet)
    compact slots  from page 8, 6 pages (24 bytes) each: 5 on NTAG21x (pages 8..37), 4 on MF0UL21 (8..31)
    legacy slots   from page 8, 8 pages (32 bytes) each: 4 on NTAG21x (8..39), 3 on MF0UL21 (8..31)

A header of version 1 (written before the compact format) may have both kinds
of slot on the card: its old records stay readable and every new record is
written compactly into a slot that does not touch the newest record's pages.
One FAST_READ of pages 0..39 covers the UID, the header and every slot of
both layouts on each supported chip, so a sale costs one read, one PWD_AUTH
and six page writes: 8 card exchanges.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.nfc.errors import UnsupportedCard
from terminal.nfc.ntag import PAGE, NtagTag

USER_START = 4
HEADER_PAGES = 4
FIRST_SLOT_PAGE = USER_START + HEADER_PAGES
AUTH0 = USER_START  # every purse page needs the password to be written
READ_PAGES = 40  # pages 0..39: the largest layout, present on every supported chip
LEGACY, COMPACT = 1, 2  # slot formats
SLOT_PAGES = {LEGACY: 8, COMPACT: 6}
SLOT_COUNTS = {
    LEGACY: {"NTAG213": 4, "NTAG215": 4, "NTAG216": 4, "MF0UL21": 3},
    COMPACT: {"NTAG213": 5, "NTAG215": 5, "NTAG216": 5, "MF0UL21": 4},
}
COUNTER_PRODUCTS = frozenset({"MF0UL21"})  # chips with INCR_CNT one-way counters


@dataclass(frozen=True)
class SlotRef:
    """Where one sealed record lies: its format (LEGACY or COMPACT) and its index among that format's slots."""

    fmt: int
    index: int

    @property
    def page(self) -> int:
        return FIRST_SLOT_PAGE + self.index * SLOT_PAGES[self.fmt]

    @property
    def size(self) -> int:
        return SLOT_PAGES[self.fmt] * PAGE

    def overlaps(self, other: SlotRef) -> bool:
        return self.page < other.page + SLOT_PAGES[other.fmt] and other.page < self.page + SLOT_PAGES[self.fmt]


@dataclass(frozen=True)
class PurseImage:
    """What one read of the purse gave: the UID, the 16 header bytes and every slot's raw bytes."""

    uid: bytes
    raw: bytes  # pages 0..READ_PAGES-1
    counter: int | None = None  # the one-way counter, on chips that have one (read once the product is known)

    @property
    def header(self) -> bytes:
        return self.raw[USER_START * PAGE : (USER_START + HEADER_PAGES) * PAGE]

    def slot(self, ref: SlotRef) -> bytes:
        return self.raw[ref.page * PAGE : ref.page * PAGE + ref.size]

    def written(self, page: int, data: bytes) -> PurseImage:
        """The image as it is after `data` was written from `page` on."""
        start = page * PAGE
        raw = self.raw + bytes(max(0, start + len(data) - len(self.raw)))
        return PurseImage(self.uid, raw[:start] + data + raw[start + len(data):], self.counter)


def slots(product: str, formats: tuple[int, ...]) -> tuple[SlotRef, ...]:
    return tuple(SlotRef(fmt, i) for fmt in formats for i in range(SLOT_COUNTS[fmt][product]))


def target_slot(product: str, keep: SlotRef, oldest_first: list[SlotRef]) -> SlotRef:
    """The compact slot for the next record: the first of `oldest_first` (slots holding no valid record, then
    the oldest records) that does not touch `keep`, the newest record's slot, so a torn write leaves it whole."""
    free = [ref for ref in oldest_first if ref.fmt == COMPACT and not ref.overlaps(keep)]
    if not free:
        free = [ref for ref in slots(product, (COMPACT,)) if not ref.overlaps(keep)]
    return free[0]


class NtagPurse:
    """The wallet's view of a tapped NTAG/Ultralight EV1: read the purse, write a record, activate a blank band."""

    def __init__(self, tag: NtagTag) -> None:
        self.tag = tag

    @property
    def exchanges(self) -> int:
        return self.tag.exchanges

    @property
    def product(self) -> str:
        """The chip's product; UnsupportedCard for a chip too small to hold a purse."""
        product = self.tag.info.product
        if product not in SLOT_COUNTS[LEGACY]:
            raise UnsupportedCard(f"an {product} is too small to hold a StallPay purse")
        return product

    def hint_product(self, product: str) -> None:
        """The product as the band's header names it: no GET_VERSION needed."""
        self.tag.hint_product(product)

    def read(self) -> PurseImage:
        """One FAST_READ of pages 0..39; the UID from pages 0-1 when both check bytes agree."""
        try:
            raw = self.tag.read_pages(0, READ_PAGES)
        except ValueError:  # the driver knows the chip and it has fewer pages
            raise UnsupportedCard(f"an {self.tag.info.product} is too small to hold a StallPay purse") from None
        return PurseImage(_uid_from_pages(raw) or self.tag.info.uid, raw)

    def with_counter(self, image: PurseImage) -> PurseImage:
        """The image with the chip's one-way counter (one READ_CNT on Ultralight EV1, nothing elsewhere)."""
        if self.product not in COUNTER_PRODUCTS:
            return image
        return PurseImage(image.uid, image.raw, self.tag.read_counter())

    def authenticate(self, password: bytes) -> None:
        """PWD_AUTH: the purse pages become writable for this tap."""
        self.tag.authenticate(password)

    def write_record(self, ref: SlotRef, sealed: bytes, *, seq: int, counter: int | None) -> None:
        """The sealed record page by page (after `authenticate`). On a chip with a one-way counter, the counter
        is first brought up to the record before (`seq - 1`) and stepped to `seq` after the last page."""
        if len(sealed) != ref.size:
            raise ValueError(f"a {ref.size}-byte slot cannot take {len(sealed)} bytes")
        for _ in range(max(0, seq - 1 - (counter or 0)) if counter is not None else 0):
            self.tag.increment_counter()
        self._write(ref.page, sealed)
        if counter is not None:
            self.tag.increment_counter()

    def change_password(self, password: bytes, pack: bytes) -> None:
        """PWD, then PACK (after `authenticate` with the old password): a band moving to a new key epoch."""
        if len(password) != 4 or len(pack) != 2:
            raise ValueError("password is 4 bytes and PACK 2 bytes")
        self.tag.write_page(self.tag.layout.pwd_page, password)
        self.tag.write_page(self.tag.layout.pack_page, pack + b"\x00\x00")

    def write_pages(self, page: int, data: bytes) -> None:
        """Whole pages from `page` on (after `authenticate`): header pages or a record re-sealed in place."""
        if len(data) % PAGE:
            raise ValueError("whole 4-byte pages only")
        self._write(page, data)

    def activate(self, password: bytes, pack: bytes, header: bytes, ref: SlotRef, sealed: bytes) -> None:
        """Header and first record onto a blank band, then lock its purse pages with the password."""
        self.unlock_if_protected(password)
        # Magic last: a header torn part-way never reads as a StallPay header.
        for i in reversed(range(0, len(header), PAGE)):
            self.tag.write_page(USER_START + i // PAGE, header[i : i + PAGE])
        self._write(ref.page, sealed)
        self.ensure_protected(password, pack)

    def unlock_if_protected(self, password: bytes) -> None:
        """PWD_AUTH when a purse page already needs the password (an issue torn after locking)."""
        if self._auth0() <= FIRST_SLOT_PAGE + SLOT_COUNTS[LEGACY][self.product] * SLOT_PAGES[LEGACY]:
            self.tag.authenticate(password)

    def ensure_protected(self, password: bytes, pack: bytes) -> None:
        if self._auth0() != AUTH0:
            self.tag.protect(password, pack, AUTH0)

    def _auth0(self) -> int:
        return self.tag.read_pages(self.tag.info.config_page, 1)[3]

    def _write(self, page: int, data: bytes) -> None:
        for i in range(0, len(data), PAGE):
            self.tag.write_page(page + i // PAGE, data[i : i + PAGE])


def _uid_from_pages(raw: bytes) -> bytes | None:
    """The 7-byte UID from pages 0-1, if both check bytes agree (ISO 14443-3 cascade level 2)."""
    if len(raw) < 9:
        return None
    uid = raw[0:3] + raw[4:8]
    if raw[3] != 0x88 ^ raw[0] ^ raw[1] ^ raw[2] or raw[8] != raw[4] ^ raw[5] ^ raw[6] ^ raw[7]:
        return None
    return uid
