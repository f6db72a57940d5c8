"""The purse codec: sealing, verification, slot order, and fuzzing of what a card may hold."""

import os
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.nfc.ntag_purse import COMPACT, LEGACY, READ_PAGES, PurseImage, SlotRef, slots
from terminal.wallet.keys import purse_key
from terminal.wallet.ntag_ops import parse_slots
from terminal.wallet.purse import (
    COMPACT_BYTES,
    LEGACY_VERSION,
    SEQ_MAX,
    U24,
    Op,
    PurseFormatError,
    PurseKeys,
    Record,
    decode_header,
    encode_header,
    new_header,
    peek_header,
    seal,
    seal_legacy,
    unseal,
    unseal_legacy,
)

UID = bytes.fromhex("04112233445566")
MASTER = os.urandom(16)
KEYS = PurseKeys(purse_key(MASTER, UID, "fest"))
HEADER = new_header("NTAG215", "fest", 0x10001)


def rec(seq: int, balance: int = 1000) -> Record:
    return Record(seq=seq, balance=balance, spent=0, comp=0, time=1_790_000_000, terminal=7, op=Op.TOPUP)


def image_with(records: list[tuple[Record, int]]) -> bytes:
    raw = bytearray(READ_PAGES * 4)
    raw[16:32] = encode_header(KEYS, UID, HEADER)
    for r, slot in records:
        start = SlotRef(COMPACT, slot).page * 4
        raw[start : start + COMPACT_BYTES] = seal(KEYS, UID, HEADER, r, slot)
    return bytes(raw)


def test_a_record_is_one_six_page_slot_and_round_trips() -> None:
    r = Record(seq=SEQ_MAX, balance=U24, spent=U24 - 1, comp=12345, time=2**32 - 1, terminal=65535, op=Op.CORRECT)
    sealed = seal(KEYS, UID, HEADER, r, 4)
    assert len(sealed) == 24 == 6 * 4
    assert unseal(KEYS, UID, HEADER, 4, sealed) == r
    assert r.pack_compact() not in sealed  # encrypted, not just signed


def test_sealing_is_deterministic_so_a_retried_write_is_identical() -> None:
    assert seal(KEYS, UID, HEADER, rec(3), 1) == seal(KEYS, UID, HEADER, rec(3), 1)
    assert seal(KEYS, UID, HEADER, rec(3), 1) != seal(KEYS, UID, HEADER, rec(3, balance=999), 1)


@pytest.mark.parametrize("bit", [0, 7, 100, 191])
def test_any_flipped_bit_is_refused(bit: int) -> None:
    sealed = bytearray(seal(KEYS, UID, HEADER, rec(2), 2))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, HEADER, 2, bytes(sealed))


def test_record_copied_to_another_card_or_event_or_slot_is_refused() -> None:
    sealed = seal(KEYS, UID, HEADER, rec(2), 2)
    other_uid = bytes.fromhex("04112233445567")
    other_keys = PurseKeys(purse_key(MASTER, other_uid, "fest"))
    with pytest.raises(PurseFormatError):
        unseal(other_keys, other_uid, HEADER, 2, sealed)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, new_header("NTAG215", "other-fest", HEADER.card_id), 2, sealed)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, new_header("NTAG215", "fest", HEADER.card_id + 1), 2, sealed)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, HEADER, 3, sealed)


def test_a_legacy_record_never_reads_as_a_compact_one_nor_the_reverse() -> None:
    legacy_header = replace(HEADER, version=LEGACY_VERSION)
    old = seal_legacy(KEYS, UID, legacy_header, rec(2), 4)
    assert unseal_legacy(KEYS, UID, legacy_header, 2, 4, old) == rec(2)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, legacy_header, 2, old[:24])
    with pytest.raises(PurseFormatError):
        unseal_legacy(KEYS, UID, legacy_header, 2, 4, seal(KEYS, UID, legacy_header, rec(2), 2) + bytes(8))


def test_newest_valid_record_wins_and_a_torn_slot_is_skipped() -> None:
    raw = bytearray(image_with([(rec(1, 100), 0), (rec(2, 200), 3), (rec(3, 300), 1)]))
    start = SlotRef(COMPACT, 1).page * 4
    raw[start + 5] ^= 0xFF  # the newest write was torn
    records, invalid = parse_slots(KEYS, HEADER, PurseImage(UID, bytes(raw)), "NTAG215")
    assert [(r.seq, r.balance) for r, _ in records] == [(2, 200), (1, 100)]
    assert {ref.index for ref in invalid} == {1, 2, 4}


def test_a_compact_slot_never_overlaps_pages_it_must_keep() -> None:
    for product in ("NTAG213", "MF0UL21"):
        compact = slots(product, (COMPACT,))
        assert compact[-1].page + 6 <= 40 if product == "NTAG213" else compact[-1].page + 6 <= 32
        for keep in slots(product, (LEGACY, COMPACT)):
            assert any(not ref.overlaps(keep) for ref in compact if ref != keep)


def test_header_verifies_and_names_event_before_any_mac() -> None:
    raw = encode_header(KEYS, UID, HEADER)
    assert decode_header(KEYS, UID, raw) == HEADER
    assert peek_header(raw) == (HEADER.event_tag, HEADER.card_id, "NTAG215", 2)
    assert peek_header(bytes(16)) is None
    tampered = raw[:8] + (HEADER.card_id + 1).to_bytes(4, "big") + raw[12:]
    with pytest.raises(PurseFormatError):
        decode_header(KEYS, UID, tampered)


def test_record_fields_out_of_range_are_refused_before_writing() -> None:
    with pytest.raises(ValueError):
        rec(1, balance=-1).pack_compact()
    with pytest.raises(ValueError):
        rec(1, balance=U24 + 1).pack_compact()
    with pytest.raises(ValueError):
        rec(SEQ_MAX + 1).pack_compact()
    with pytest.raises(ValueError):
        Record(seq=1, balance=0, spent=0, comp=0, time=0, terminal=70000, op=Op.SALE).pack_compact()


@settings(max_examples=300)
@given(st.binary(min_size=READ_PAGES * 4, max_size=READ_PAGES * 4))
def test_fuzz_random_card_memory_never_verifies_and_never_crashes(raw: bytes) -> None:
    peek_header(raw[16:32])
    legacy = replace(HEADER, version=LEGACY_VERSION)
    for header in (HEADER, legacy):
        records, _ = parse_slots(KEYS, header, PurseImage(UID, raw), "NTAG215")
        assert records == []


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=COMPACT_BYTES * 8 - 1), st.integers(min_value=1, max_value=SEQ_MAX),
       st.integers(min_value=0, max_value=4))
def test_fuzz_single_bit_flips_on_any_record_are_caught(bit: int, seq: int, slot: int) -> None:
    sealed = bytearray(seal(KEYS, UID, HEADER, rec(seq), slot))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, HEADER, slot, bytes(sealed))
