"""Known-answer tests of DESFire EV2 secure messaging and key diversification against published vectors."""

from __future__ import annotations

import pytest

from terminal.nfc import desfire_crypto as dc
from terminal.wallet.keys import aes_cmac, diversify_an10922

h = bytes.fromhex


def test_rfc4493_cmac_examples() -> None:
    key = h("2b7e151628aed2a6abf7158809cf4f3c")
    msg = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411")
    assert dc.cmac(key, b"") == h("bb1d6929e95937287fa37d129b756746")
    assert dc.cmac(key, msg[:16]) == h("070a16b46b4d4144f79bdd9dd04a287c")
    assert dc.cmac(key, msg) == h("dfa66747de9ae63030ca32611497c827")
    assert aes_cmac(key, msg) == dc.cmac(key, msg)


def test_an10922_aes128_example() -> None:
    # AN10922 §2.2.1: master key, UID, AID and system identifier "NXP Abu"
    key = h("00112233445566778899AABBCCDDEEFF")
    out = diversify_an10922(key, h("04782E21801D80"), h("3042F5"), h("4E585020416275"))
    assert out == h("A8DD63A3B89D54B37CA802473FDA9175")


def test_an12196_authenticate_ev2_first_table() -> None:
    key0 = bytes(16)
    rnd_a = h("13C5DB8A5930439FC3DEF9A4C675360F")
    part2, rnd_b = dc.auth_part2(key0, h("A04C124213C186F22399D33AC2A30215"), rnd_a)
    assert rnd_b == h("B9E2FC789B64BF237CCCAA20EC7E6E48")
    assert part2 == h("35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D")
    sv1, sv2 = dc.session_vectors(rnd_a, rnd_b)
    assert sv1 == h("A55A0001008013C56268A548D8FBBF237CCCAA20EC7E6E48C3DEF9A4C675360F")
    assert sv2 == h("5AA50001008013C56268A548D8FBBF237CCCAA20EC7E6E48C3DEF9A4C675360F")
    s = dc.auth_finish_first(key0, 0, rnd_a, rnd_b,
                             h("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663"))
    assert s.ti == h("9D00C4DF") and s.counter == 0
    assert s.enc_key == h("1309C877509E5A215007FF0ED19CA564")
    assert s.mac_key == h("4C6626F5E72EA694202139295C7A7FC7")
    assert "1309" not in repr(s)


def test_an12196_auth_refuses_a_card_without_the_key() -> None:
    key0 = bytes(16)
    rnd_a = h("13C5DB8A5930439FC3DEF9A4C675360F")
    _, rnd_b = dc.auth_part2(key0, h("A04C124213C186F22399D33AC2A30215"), rnd_a)
    with pytest.raises(dc.SecureMessagingError):
        dc.auth_finish_first(bytes(15) + b"\x01", 0, rnd_a, rnd_b,
                             h("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663"))


def test_an12196_cmac_mode_get_file_settings() -> None:
    s = dc.Ev2Session(0, bytes(16), h("8248134A386E86EB7FAF54A52E536CB6"), h("7A21085E"), 0)
    assert s.command_mac(0xF5, b"\x02", b"") == h("6597A457C8CD442C")


def test_an12196_full_mode_change_file_settings() -> None:
    s = dc.Ev2Session(0, h("1309C877509E5A215007FF0ED19CA564"), h("4C6626F5E72EA694202139295C7A7FC7"),
                      h("9D00C4DF"), 1)
    enc = s.encrypt_command(h("4000E0C1F121200000430000430000"))
    assert enc == h("61B6D97903566E84C3AE5274467E89EA")
    assert s.command_mac(0x5F, b"\x02", enc) == h("D799B7C1A0EF7A04")
    assert s.decrypt_command(enc) == h("4000E0C1F121200000430000430000")
    # the card's answer: MAC over 00 || CmdCtr+1 || TI
    assert s.response_mac(0x00, b"", counter=2) == h("57BFF87B1241E93D")


def test_padding_and_crc() -> None:
    assert dc.pad(b"") == b"\x80" + bytes(15)
    assert dc.unpad(dc.pad(b"\x80\x00")) == b"\x80\x00"
    with pytest.raises(dc.SecureMessagingError):
        dc.unpad(bytes(16))
    assert dc.crc32_desfire(b"123456789") == (0xCBF43926 ^ 0xFFFFFFFF).to_bytes(4, "little")
