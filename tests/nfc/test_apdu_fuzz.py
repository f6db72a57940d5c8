"""Malformed APDUs never crash an emulated card: every answer ends in a status word."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal.nfc.emulator import PRODUCTS, BankCardEmulator, ClassicEmulator, NtagEmulator, PhoneEmulator

PREFIXES = [
    b"", b"\xff", b"\xff\x00\x00\x00", b"\xff\xb0\x00", b"\xff\xd6\x00", b"\xff\xca", b"\xff\x00\x00\x00\x03\xd4\x42",
]
STATUS_WORDS = {b"\x90\x00", b"\x63\x00", b"\x67\x00", b"\x6a\x81", b"\x6a\x82", b"\x6d\x00"}


def direct(cmd: bytes) -> bytes:
    payload = b"\xd4\x42" + cmd
    return bytes([0xFF, 0, 0, 0, len(payload)]) + payload


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    product=st.sampled_from(list(PRODUCTS)),
    apdus=st.lists(
        st.one_of(
            st.binary(max_size=24),
            st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=12)).map(lambda t: t[0] + t[1]),
            st.binary(min_size=1, max_size=8).map(direct),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_ntag_emulator_always_answers_with_a_status_word(product: str, apdus: list[bytes]) -> None:
    card = NtagEmulator(product, uid=bytes.fromhex("04010203040506"))
    for apdu in apdus:
        answer = card.transmit(apdu)
        assert answer[-2:] in STATUS_WORDS
        if answer[:2] == b"\xd5\x43":
            assert answer[2] in (0, 1)
    assert card.page(0)[:3] == b"\x04\x01\x02"  # the UID can never be overwritten
    assert card.commands == len(apdus)


@settings(max_examples=100, deadline=None)
@given(apdu=st.binary(max_size=24))
def test_foreign_cards_always_answer_with_a_status_word(apdu: bytes) -> None:
    for card in (ClassicEmulator(), BankCardEmulator(), PhoneEmulator()):
        assert card.transmit(apdu)[-2:] in STATUS_WORDS
