"""The purse codec: sealing, verification, slot order, and fuzzing of what a card may hold."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.wallet.keys import purse_key
from terminal.wallet.purse import (
    FIRST_SLOT_PAGE,
    SLOT_BYTES,
    Op,
    PurseFormatError,
    PurseKeys,
    Record,
    decode_header,
    encode_header,
    new_header,
    parse_image,
    peek_header,
    seal,
    slot_page,
    unseal,
)

UID = bytes.fromhex("04112233445566")
MASTER = os.urandom(16)
KEYS = PurseKeys(purse_key(MASTER, UID, "fest"))
HEADER = new_header("NTAG215", "fest", 0x10001)


def rec(seq: int, balance: int = 1000) -> Record:
    return Record(seq=seq, balance=balance, spent=0, comp=0, time=1_790_000_000, terminal=7, op=Op.TOPUP)


def image_with(records: list[Record]) -> bytes:
    raw = bytearray(FIRST_SLOT_PAGE * 4 + HEADER.slots * SLOT_BYTES)
    raw[16:32] = encode_header(KEYS, UID, HEADER)
    for r in records:
        start = slot_page(HEADER, r.seq) * 4
        raw[start : start + SLOT_BYTES] = seal(KEYS, UID, HEADER, r)
    return bytes(raw)


def test_a_record_is_one_eight_page_slot_and_round_trips() -> None:
    r = rec(5)
    sealed = seal(KEYS, UID, HEADER, r)
    assert len(sealed) == 32 == 8 * 4
    assert unseal(KEYS, UID, HEADER, 5 % HEADER.slots, sealed) == r
    assert r.pack() not in sealed  # encrypted, not just signed


def test_sealing_is_deterministic_so_a_retried_write_is_identical() -> None:
    assert seal(KEYS, UID, HEADER, rec(3)) == seal(KEYS, UID, HEADER, rec(3))
    assert seal(KEYS, UID, HEADER, rec(3)) != seal(KEYS, UID, HEADER, rec(3, balance=999))


@pytest.mark.parametrize("bit", [0, 7, 100, 255])
def test_any_flipped_bit_is_refused(bit: int) -> None:
    sealed = bytearray(seal(KEYS, UID, HEADER, rec(2)))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, HEADER, 2 % HEADER.slots, bytes(sealed))


def test_record_copied_to_another_card_or_event_or_slot_is_refused() -> None:
    sealed = seal(KEYS, UID, HEADER, rec(2))
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


def test_newest_valid_record_wins_and_a_torn_slot_is_skipped() -> None:
    raw = bytearray(image_with([rec(1, 100), rec(2, 200), rec(3, 300)]))
    start = slot_page(HEADER, 3) * 4
    raw[start + 5] ^= 0xFF  # the newest write was torn
    image = parse_image(KEYS, UID, HEADER, bytes(raw))
    assert image.current.seq == 2 and image.current.balance == 200
    assert set(image.invalid_slots) == {0, 3}


def test_header_verifies_and_names_event_before_any_mac() -> None:
    raw = encode_header(KEYS, UID, HEADER)
    assert decode_header(KEYS, UID, raw) == HEADER
    assert peek_header(raw) == (HEADER.event_tag, HEADER.card_id, "NTAG215")
    assert peek_header(bytes(16)) is None
    tampered = raw[:8] + (HEADER.card_id + 1).to_bytes(4, "big") + raw[12:]
    with pytest.raises(PurseFormatError):
        decode_header(KEYS, UID, tampered)


def test_record_fields_out_of_range_are_refused_before_writing() -> None:
    with pytest.raises(ValueError):
        rec(1, balance=-1).pack()
    with pytest.raises(ValueError):
        Record(seq=1, balance=0, spent=0, comp=0, time=0, terminal=70000, op=Op.SALE).pack()


@settings(max_examples=300)
@given(st.binary(min_size=FIRST_SLOT_PAGE * 4 + 4 * SLOT_BYTES, max_size=FIRST_SLOT_PAGE * 4 + 4 * SLOT_BYTES))
def test_fuzz_random_card_memory_never_verifies_and_never_crashes(raw: bytes) -> None:
    peek_header(raw[16:32])
    with pytest.raises(PurseFormatError):
        parse_image(KEYS, UID, HEADER, raw)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=SLOT_BYTES * 8 - 1), st.integers(min_value=1, max_value=2**32 - 1))
def test_fuzz_single_bit_flips_on_any_record_are_caught(bit: int, seq: int) -> None:
    sealed = bytearray(seal(KEYS, UID, HEADER, rec(seq)))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(PurseFormatError):
        unseal(KEYS, UID, HEADER, seq % HEADER.slots, bytes(sealed))
