"""Known-answer tests: AN10922 AES-128 diversification and AES-CMAC (RFC 4493)."""

import os

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from hypothesis import given
from hypothesis import strategies as st

from terminal.wallet.keys import aes_cmac, card_password, diversify_an10922, purse_key

RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MSG = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(("length", "tag"), [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
])
def test_aes_cmac_rfc4493_vectors(length: int, tag: str) -> None:
    assert aes_cmac(RFC4493_KEY, RFC4493_MSG[:length]).hex() == tag


@given(st.binary(max_size=80))
def test_aes_cmac_agrees_with_cryptography(message: bytes) -> None:
    ref = cmac.CMAC(algorithms.AES(RFC4493_KEY))
    ref.update(message)
    assert aes_cmac(RFC4493_KEY, message) == ref.finalize()


def test_an10922_aes128_published_vector() -> None:
    # AN10922 rev 1.2, section 2.2.1: AES-128 key diversification example.
    key = diversify_an10922(
        bytes.fromhex("00112233445566778899AABBCCDDEEFF"),
        uid=bytes.fromhex("04782E21801D80"),
        aid=bytes.fromhex("3042F5"),
        system_id=bytes.fromhex("4E585020416275"),
    )
    assert key.hex().upper() == "A8DD63A3B89D54B37CA802473FDA9175"


def test_an10922_pads_short_input_to_two_blocks_unlike_plain_cmac() -> None:
    master = bytes(range(16))
    short = diversify_an10922(master, uid=b"\x04\x01\x02", aid=b"", system_id=b"")
    assert short != aes_cmac(master, b"\x01\x04\x01\x02")
    assert len(short) == 16


def test_an10922_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="16-byte"):
        diversify_an10922(b"short", b"\x04" * 7, b"", b"")
    with pytest.raises(ValueError, match="1 to 31"):
        diversify_an10922(bytes(16), b"\x04" * 20, b"\x00" * 6, b"\x00" * 6)


def test_card_keys_differ_per_card_event_and_purpose() -> None:
    master = os.urandom(16)
    uid_a, uid_b = bytes.fromhex("04a1b2c3d4e5f6"), bytes.fromhex("04a1b2c3d4e5f7")
    assert purse_key(master, uid_a, "ev") != purse_key(master, uid_b, "ev")
    assert purse_key(master, uid_a, "ev") != purse_key(master, uid_a, "other")
    pwd, pack = card_password(master, uid_a, "ev")
    assert len(pwd) == 4 and len(pack) == 2
    assert pwd != purse_key(master, uid_a, "ev")[:4]
