"""The emulated NTAG21x / Ultralight EV1 against the NXP data sheets, at the NFC-command level."""

from __future__ import annotations

import pytest

from terminal.nfc.emulator import PRODUCTS, NtagEmulator
from terminal.nfc.originality import generate_signing_key, public_key_bytes, verify_originality
from terminal.wallet.card import CardRemoved

UID = bytes.fromhex("04A1B2C3D4E5F6")
ALL = list(PRODUCTS)
TIMEOUT = b"\xd5\x43\x01\x90\x00"


def nfc(card: NtagEmulator, command: str | bytes) -> bytes | None:
    """Send a Type 2 command through direct transmit; the card's answer, or None for no answer."""
    cmd = bytes.fromhex(command) if isinstance(command, str) else command
    response = card.transmit(bytes([0xFF, 0, 0, 0, len(cmd) + 2, 0xD4, 0x42]) + cmd)
    assert response[-2:] == b"\x90\x00"
    if response == TIMEOUT:
        return None
    assert response[:3] == b"\xd5\x43\x00"
    return response[3:-2]


def write(card: NtagEmulator, page: int, data: bytes) -> bytes | None:
    return nfc(card, bytes([0xA2, page]) + data)


def fresh(product: str = "NTAG215", **kw: object) -> NtagEmulator:
    return NtagEmulator(product, uid=UID, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("product", "version"),
    [
        ("NTAG213", "0004040201000f03"),
        ("NTAG215", "0004040201001103"),
        ("NTAG216", "0004040201001303"),
        ("MF0UL11", "0004030101000b03"),
        ("MF0UL21", "0004030101000e03"),
    ],
)
def test_get_version_matches_datasheet(product: str, version: str) -> None:
    assert nfc(fresh(product), "60") == bytes.fromhex(version)


@pytest.mark.parametrize(
    ("product", "pages", "cfg0", "cc"),
    [
        ("NTAG213", 45, 0x29, "e1101200"),
        ("NTAG215", 135, 0x83, "e1103e00"),
        ("NTAG216", 231, 0xE3, "e1106d00"),
        ("MF0UL11", 20, 0x10, "00000000"),
        ("MF0UL21", 41, 0x25, "00000000"),
    ],
)
def test_memory_map(product: str, pages: int, cfg0: int, cc: str) -> None:
    card = fresh(product)
    head = nfc(card, bytes([0x3A, 0, 3]))
    assert head is not None
    assert head[0:3] == UID[0:3] and head[3] == 0x88 ^ UID[0] ^ UID[1] ^ UID[2]
    assert head[4:8] == UID[3:7] and head[8] == UID[3] ^ UID[4] ^ UID[5] ^ UID[6]
    assert head[12:16] == bytes.fromhex(cc)
    assert nfc(card, bytes([0x3A, 0, pages - 1])) is not None  # whole memory readable
    assert nfc(card, bytes([0x30, cfg0]))[3] == 0xFF  # AUTH0 off  # type: ignore[index]
    assert card.page(cfg0 + 2) == b"\xff\xff\xff\xff"  # default PWD
    assert nfc(card, bytes([0x3A, cfg0 + 2, cfg0 + 3])) == bytes(8)  # PWD, PACK read as 00
    card.power_on()
    assert nfc(card, bytes([0x30, pages])) == b"\x00"  # beyond the memory: NAK


def test_read_rolls_over_to_page_zero_at_the_end() -> None:
    card = fresh("NTAG213")
    data = nfc(card, bytes([0x30, 0x2C]))
    assert data is not None and data[4:8] == card.page(0) and data[12:16] == card.page(2)


def test_write_and_fast_read() -> None:
    card = fresh()
    assert write(card, 4, b"ABCD") == b"\x0a"
    assert nfc(card, "3a0405") == b"ABCD" + bytes(4)
    assert card.transmit(bytes.fromhex("FFD6000504") + b"WXYZ") == b"\x90\x00"
    assert card.transmit(bytes.fromhex("FFB0000410")) == b"ABCDWXYZ" + bytes(8) + b"\x90\x00"
    assert card.transmit(bytes.fromhex("FFCA000000")) == UID + b"\x90\x00"


def test_uid_pages_are_read_only_and_nak_halts_the_chip() -> None:
    card = fresh()
    assert write(card, 0, b"\x00\x00\x00\x00") == b"\x00"
    assert card.halted
    assert nfc(card, "60") is None  # silent until the next field reset
    assert card.transmit(bytes.fromhex("FFB0000410")) == b"\x63\x00"
    card.power_on()
    assert nfc(card, "60") is not None
    assert card.page(0)[0:3] == UID[0:3]


@pytest.mark.parametrize("product", ALL)
def test_password_protects_writes_from_auth0(product: str) -> None:
    spec = PRODUCTS[product]
    card = fresh(product)
    assert write(card, spec.pwd, b"PASS") == b"\x0a"
    assert write(card, spec.pack, b"OK\x00\x00") == b"\x0a"
    assert write(card, spec.cfg0, spec.cfg0_default[:3] + b"\x08") == b"\x0a"  # AUTH0 = 8
    assert write(card, 7, b"free") == b"\x0a"  # below AUTH0
    assert write(card, 8, b"lock") == b"\x00"  # at AUTH0, not authenticated
    card.power_on()
    assert nfc(card, "3a0408") is not None  # reads stay open without PROT
    assert nfc(card, b"\x1bPASS") == b"OK"
    assert write(card, 8, b"lock") == b"\x0a"
    assert card.page(8) == b"lock"
    card.power_on()  # a new field session forgets the authentication
    assert write(card, 8, b"nope") == b"\x00"
    card.power_on()
    assert nfc(card, b"\x1bWRNG") == b"\x00"
    assert not card.authenticated
    assert card.page(8) == b"lock"


@pytest.mark.parametrize("product", ALL)
def test_prot_bit_protects_reads(product: str) -> None:
    spec = PRODUCTS[product]
    card = fresh(product)
    write(card, spec.cfg1, bytes([0x80]) + spec.cfg1_default[1:])
    write(card, spec.cfg0, spec.cfg0_default[:3] + b"\x06")
    card.power_on()
    assert nfc(card, "3a0405") is not None
    assert nfc(card, "3a0406") == b"\x00"
    card.power_on()
    data = nfc(card, "3005")  # rolls over at AUTH0 when reads are protected
    assert data is not None and data[4:8] == card.page(0)
    card.power_on()
    assert nfc(card, b"\x1b\xff\xff\xff\xff") == b"\x00\x00"
    assert nfc(card, "3a0406") is not None


def test_authlim_locks_password_after_2_pow_authlim_failures_on_ntag() -> None:
    spec = PRODUCTS["NTAG213"]
    card = fresh("NTAG213")
    write(card, spec.cfg1, b"\x01\x00\x00\x00")  # AUTHLIM 1: two attempts on NTAG21x
    for _ in range(2):
        card.power_on()
        assert nfc(card, b"\x1bBAD!") == b"\x00"
    card.power_on()
    assert nfc(card, b"\x1b\xff\xff\xff\xff") == b"\x04"


def test_authlim_is_a_plain_count_on_ultralight_ev1() -> None:
    spec = PRODUCTS["MF0UL21"]
    card = fresh("MF0UL21")
    write(card, spec.cfg1, b"\x01\x05\x00\x00")  # AUTHLIM 1: one attempt
    card.power_on()
    assert nfc(card, b"\x1bBAD!") == b"\x00"
    card.power_on()
    assert nfc(card, b"\x1b\xff\xff\xff\xff") == b"\x04"


def test_successful_auth_resets_failure_count() -> None:
    spec = PRODUCTS["MF0UL11"]
    card = fresh("MF0UL11")
    write(card, spec.cfg1, b"\x02\x05\x00\x00")
    for _ in range(3):
        card.power_on()
        assert nfc(card, b"\x1bBAD!") == b"\x00"
        card.power_on()
        assert nfc(card, b"\x1b\xff\xff\xff\xff") == b"\x00\x00"


def test_static_lock_bits() -> None:
    card = fresh()
    assert write(card, 2, b"\xff\xff\x30\x01") == b"\x0a"  # L4, L5, L8; bytes 0-1 ignored
    assert card.page(2)[0:2] == bytes([UID[3] ^ UID[4] ^ UID[5] ^ UID[6], 0x48])
    assert write(card, 4, b"nope") == b"\x00"
    card.power_on()
    assert write(card, 8, b"nope") == b"\x00"
    card.power_on()
    assert write(card, 6, b"fine") == b"\x0a"
    assert write(card, 2, b"\x00\x00\x00\x00") == b"\x0a"  # OTP: cannot be cleared
    assert card.page(2)[2:4] == b"\x30\x01"


def test_block_lock_bits_freeze_static_lock_bits() -> None:
    card = fresh()
    write(card, 2, b"\x00\x00\x02\x00")  # BL 9-4
    write(card, 2, b"\x00\x00\x40\x04")  # L6 and L10 wanted: L6 frozen, L10 allowed
    assert card.page(2)[2:4] == b"\x02\x04"
    assert write(card, 6, b"open") == b"\x0a"


def test_cc_page_is_otp() -> None:
    card = fresh()
    write(card, 3, b"\x00\x00\x00\x0f")
    assert card.page(3) == b"\xe1\x10\x3e\x0f"


@pytest.mark.parametrize(("product", "locked", "free"), [("NTAG213", 17, 18), ("NTAG215", 31, 32), ("MF0UL21", 17, 18)])
def test_dynamic_lock_bits(product: str, locked: int, free: int) -> None:
    spec = PRODUCTS[product]
    card = fresh(product)
    assert spec.dynamic_lock is not None
    assert write(card, spec.dynamic_lock, b"\x01\x00\x00\x00") == b"\x0a"
    assert write(card, free, b"open") == b"\x0a"
    assert write(card, locked, b"shut") == b"\x00"
    card.power_on()
    write(card, spec.dynamic_lock, b"\x00\x00\x01\x00")  # block-lock bits 0-1
    write(card, spec.dynamic_lock, b"\x02\x00\x00\x00")  # frozen: not set
    assert card.page(spec.dynamic_lock)[0] == 0x01
    assert write(card, free, b"open") == b"\x0a"


def test_cfglck_locks_configuration_but_not_password() -> None:
    spec = PRODUCTS["NTAG215"]
    card = fresh()
    write(card, spec.cfg1, b"\x40\x00\x00\x00")
    assert write(card, spec.cfg0, b"\x04\x00\x00\x04") == b"\x00"
    card.power_on()
    assert write(card, spec.pwd, b"1234") == b"\x0a"


def test_ntag_nfc_counter_counts_sessions_that_read() -> None:
    spec = PRODUCTS["NTAG216"]
    card = fresh("NTAG216")
    assert nfc(card, "3902") == b"\x00"  # disabled: NAK
    card.power_on()
    write(card, spec.cfg1, b"\x10\x00\x00\x00")  # NFC_CNT_EN
    for _ in range(3):
        card.power_on()
        nfc(card, "3a0000")
        nfc(card, "3004")  # only the first read of a session counts
    assert nfc(card, "3902") == b"\x03\x00\x00"
    assert nfc(card, "a50001000000") == b"\x00"  # no INCR_CNT on NTAG21x


def test_ntag_nfc_counter_password_protection() -> None:
    spec = PRODUCTS["NTAG213"]
    card = fresh("NTAG213")
    write(card, spec.cfg1, b"\x18\x00\x00\x00")
    card.power_on()
    assert nfc(card, "3902") == b"\x00"
    card.power_on()
    nfc(card, b"\x1b\xff\xff\xff\xff")
    assert nfc(card, "3902") == b"\x00\x00\x00"


@pytest.mark.parametrize("product", ["MF0UL11", "MF0UL21"])
def test_ultralight_ev1_counters(product: str) -> None:
    card = fresh(product)
    assert nfc(card, "a50105000000") == b"\x0a"
    assert nfc(card, "a501020000ff") == b"\x0a"  # fourth byte ignored
    assert nfc(card, "3901") == b"\x07\x00\x00"
    assert nfc(card, "3900") == b"\x00\x00\x00"
    assert nfc(card, "a502fdffff00") == b"\x0a"
    assert nfc(card, "a50203000000") == b"\x04"  # would overflow 24 bits
    card.power_on()
    assert nfc(card, "3902") == b"\xfd\xff\xff"
    assert nfc(card, "3903") == b"\x00"


def test_signature() -> None:
    key = generate_signing_key()
    card = fresh("MF0UL21", signature_key=key)
    sig = nfc(card, "3c00")
    assert sig is not None and len(sig) == 32
    assert verify_originality(UID, sig, public_key_bytes(key))
    assert not verify_originality(UID[:-1] + b"\x00", sig, public_key_bytes(key))
    assert nfc(card, "3c01") == b"\x00"


def test_tear_executes_command_but_loses_answer() -> None:
    card = fresh()
    card.tear_after(2)
    assert write(card, 4, b"one!") == b"\x0a"
    with pytest.raises(CardRemoved):
        write(card, 5, b"two!")
    assert card.page(5) == b"two!"
    with pytest.raises(CardRemoved):
        nfc(card, "60")
    card.power_on()
    assert nfc(card, "3a0405") == b"one!two!"


@pytest.mark.parametrize("partial", [0, 1, 2, 3])
def test_tear_with_partial_write(partial: int) -> None:
    card = fresh()
    write(card, 6, b"old!")
    card.tear_after(1, partial_bytes=partial)
    with pytest.raises(CardRemoved):
        card.transmit(bytes.fromhex("FFD6000604") + b"NEW?")
    assert card.page(6) == b"NEW?"[:partial] + b"old!"[partial:]
    assert card.commands == 1


def test_tear_on_tearing_protected_pages_keeps_old_content() -> None:
    card = fresh()
    card.tear_after(1, partial_bytes=2)
    with pytest.raises(CardRemoved):
        write(card, 2, b"\x00\x00\xff\xff")
    assert card.page(2)[2:4] == b"\x00\x00"


def test_tear_before_non_write_has_no_effect() -> None:
    card = fresh("MF0UL11")
    card.tear_after(1, partial_bytes=0)
    with pytest.raises(CardRemoved):
        nfc(card, "a50001000000")
    assert card.counter(0) == 0


def test_tear_after_zero_and_validation() -> None:
    card = fresh()
    card.tear_after(0)
    with pytest.raises(CardRemoved):
        nfc(card, "60")
    with pytest.raises(ValueError, match="partial_bytes"):
        card.tear_after(1, partial_bytes=5)
    with pytest.raises(ValueError, match="n_commands"):
        card.tear_after(-1)


def test_snapshot_restore_rolls_back_memory_and_counters(tmp_path: object) -> None:
    card = fresh("MF0UL21")
    write(card, 4, b"v1v1")
    image = card.snapshot()
    write(card, 4, b"v2v2")
    nfc(card, "a50001000000")
    card.restore(image)
    assert card.page(4) == b"v1v1" and card.counter(0) == 0
    with pytest.raises(ValueError, match="bytes"):
        card.restore(image[:-1])
    with pytest.raises(ValueError, match="UID"):
        NtagEmulator("MF0UL21", uid=b"\x04" + bytes(6)).restore(image)


def test_save_and_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = generate_signing_key()
    card = fresh("NTAG213", signature_key=key)
    write(card, 9, b"keep")
    path = tmp_path / "card.json"
    card.save(path)
    clone = NtagEmulator.load(path)
    assert clone.product == "NTAG213" and clone.uid == UID
    assert clone.page(9) == b"keep" and clone.signature == card.signature
    write(card, 9, b"gone")
    card.load(path)
    assert card.page(9) == b"keep"
    with pytest.raises(ValueError, match="not this card"):
        NtagEmulator("NTAG215", uid=UID).load(path)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a StallPay"):
        NtagEmulator.load(tmp_path / "bad.json")


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="unknown product"):
        NtagEmulator("NTAG210")
    with pytest.raises(ValueError, match="7 bytes"):
        NtagEmulator("NTAG215", uid=b"\x04\x01\x02\x03")


def test_commands_counts_answered_exchanges() -> None:
    card = fresh()
    nfc(card, "60")
    card.transmit(b"\x00")
    assert card.commands == 2


def test_unknown_apdus_get_6a81() -> None:
    card = fresh()
    assert card.transmit(bytes.fromhex("00A4040007A0000000041010")) == b"\x6a\x81"
    assert card.transmit(bytes.fromhex("FF00000003D44060")) == b"\x6a\x81"
    assert card.transmit(bytes.fromhex("FF00000005D442")) == b"\x67\x00"
