"""Reading and writing a band's sealed records the way a holder of the event key could, for tests."""

from __future__ import annotations

from dataclasses import dataclass

from terminal.nfc.ntag_purse import READ_PAGES, PurseImage, SlotRef, target_slot
from terminal.wallet.keys import purse_key
from terminal.wallet.ntag_ops import parse_slots
from terminal.wallet.purse import Header, PurseKeys, Record, decode_header, seal


@dataclass
class Band:
    keys: PurseKeys
    header: Header
    image: PurseImage
    records: list[tuple[Record, SlotRef]]  # newest first
    invalid: list[SlotRef]

    @property
    def current(self) -> Record:
        return self.records[0][0]

    @property
    def current_slot(self) -> SlotRef:
        return self.records[0][1]

    def next_slot(self) -> SlotRef:
        return target_slot(self.header.product, self.current_slot,
                           self.invalid + [ref for _, ref in reversed(self.records)])

    def seal(self, record: Record, ref: SlotRef) -> bytes:
        return seal(self.keys, self.image.uid, self.header, record, ref.index)


def open_band(master: bytes, event: str, uid: bytes, raw: bytes) -> Band:
    """`raw`: pages from 0 on (a snapshot or a FAST_READ of READ_PAGES pages)."""
    keys = PurseKeys(purse_key(master, uid, event))
    image = PurseImage(uid, bytes(raw[: READ_PAGES * 4]))
    header = decode_header(keys, uid, image.header)
    records, invalid = parse_slots(keys, header, image, header.product)
    return Band(keys, header, image, records, invalid)


def write_slot(snapshot: bytes, ref: SlotRef, sealed: bytes) -> bytes:
    """The snapshot with `sealed` in slot `ref` (raw, no password needed)."""
    start = ref.page * 4
    return snapshot[:start] + sealed + snapshot[start + len(sealed):]
