"""The NTAG driver against each emulated product through the in-process reader."""

from __future__ import annotations

import threading

import pytest

from terminal.nfc import open_reader
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import PRODUCTS, BankCardEmulator, ClassicEmulator, NtagEmulator, PhoneEmulator
from terminal.nfc.ntag import Acr122, NtagTag, identify
from terminal.nfc.originality import (
    NXP_NTAG21X_PUBLIC_KEY,
    NXP_ULTRALIGHT_EV1_PUBLIC_KEY,
    generate_signing_key,
    public_key_bytes,
    verify_originality,
)
from terminal.nfc.reader import NoCard, ReaderError
from terminal.wallet.card import CardAuthError, CardError, CardRemoved, PurseTag, UnsupportedCard

ALL = list(PRODUCTS)
USER_PAGES = {"NTAG213": 36, "NTAG215": 126, "NTAG216": 222, "MF0UL11": 12, "MF0UL21": 32}


def tap(card: object, reader: EmulatedReader | None = None, **kw: object) -> NtagTag:
    reader = reader or EmulatedReader()
    reader.place(card)  # type: ignore[arg-type]
    return identify(reader.wait_for_card(timeout=0), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("product", ALL)
def test_identify_each_product(product: str) -> None:
    card = NtagEmulator(product)
    tag = tap(card)
    info = tag.info
    assert info.product == product and info.uid == card.uid
    assert info.user_start == 4 and info.user_pages == USER_PAGES[product]
    assert info.config_page == PRODUCTS[product].cfg0
    assert info.has_counter == product.startswith("MF0UL")
    assert tag.exchanges == 1  # GET_VERSION only; FF CA is answered by the reader
    _check: PurseTag = tag  # satisfies the wallet's protocol
    assert _check is tag


@pytest.mark.parametrize("product", ALL)
def test_read_write_round_trip(product: str) -> None:
    card = NtagEmulator(product)
    tag = tap(card)
    last = 3 + USER_PAGES[product]
    tag.write_page(4, b"\x01\x02\x03\x04")
    tag.write_page(last, b"tail")
    data = tag.read_pages(4, USER_PAGES[product])
    assert data[:4] == b"\x01\x02\x03\x04" and data[-4:] == b"tail"
    assert card.page(last) == b"tail"


def test_uid_from_first_fast_read_saves_exchanges() -> None:
    card = NtagEmulator("NTAG215")
    reader = EmulatedReader()
    reader.place(card)
    conn = reader.wait_for_card(0)
    tag = identify(conn, product_hint="NTAG215")
    assert tag.exchanges == 0
    tag.read_pages(0, 41)
    assert tag.info.uid == card.uid
    assert tag.transmits == 1 and tag.exchanges == 1


def test_sale_fits_in_eight_exchanges() -> None:
    """One FAST_READ, one PWD_AUTH, the six pages of a compact record: the purse driver's whole sale."""
    from terminal.nfc.ntag_purse import COMPACT, NtagPurse, SlotRef

    card = NtagEmulator("NTAG215")
    tag = tap(card)
    tag.protect(b"pw01", b"ok", 4)
    purse = NtagPurse(tap(card, EmulatedReader(), product_hint="NTAG215"))
    image = purse.read()
    assert image.uid == card.uid
    purse.authenticate(b"pw01")
    ref = SlotRef(COMPACT, 2)
    purse.write_record(ref, b"sale" * 6, seq=7, counter=purse.with_counter(image).counter)
    assert purse.exchanges == 8
    assert b"".join(card.page(ref.page + i) for i in range(6)) == b"sale" * 6


def test_fast_read_split_at_60_pages() -> None:
    card = NtagEmulator("NTAG216")
    tag = tap(card)
    before = tag.exchanges
    data = tag.read_pages(0, 231)
    assert len(data) == 231 * 4 and tag.exchanges - before == 4  # 60+60+60+51
    assert data[:3] == card.uid[:3]


def test_read_bounds_are_checked_before_any_exchange() -> None:
    tag = tap(NtagEmulator("MF0UL11"))
    with pytest.raises(ValueError, match="outside"):
        tag.read_pages(18, 3)
    with pytest.raises(ValueError, match="4 bytes"):
        tag.write_page(4, b"abc")
    with pytest.raises(ValueError, match="not writable"):
        tag.write_page(0, b"abcd")
    assert tag.exchanges == 1


@pytest.mark.parametrize("product", ALL)
def test_protect_then_authenticate(product: str) -> None:
    card = NtagEmulator(product)
    tag = tap(card)
    tag.protect(b"\x11\x22\x33\x44", b"\xaa\xbb", 4)
    spec = PRODUCTS[product]
    assert card.page(spec.pwd) == b"\x11\x22\x33\x44" and card.page(spec.pack)[:2] == b"\xaa\xbb"
    assert card.page(spec.cfg0)[3] == 4 and card.page(spec.cfg0)[:3] == spec.cfg0_default[:3]
    reader = EmulatedReader()
    tag = tap(card, reader, product_hint=product)
    assert tag.read_pages(4, 2) == bytes(8)  # reads stay open
    with pytest.raises(CardAuthError, match="page 4"):
        tag.write_page(4, b"fail")
    reader.remove()
    tag = tap(card, reader, product_hint=product)
    with pytest.raises(CardAuthError, match="refused the password"):
        tag.authenticate(b"\x00\x00\x00\x00")
    reader.remove()
    tag = tap(card, reader, product_hint=product)
    assert tag.authenticate(b"\x11\x22\x33\x44") == b"\xaa\xbb"
    tag.write_page(4, b"good")
    assert card.page(4) == b"good"


def test_protect_clears_prot_so_reads_stay_open() -> None:
    card = NtagEmulator("NTAG213")
    spec = PRODUCTS["NTAG213"]
    tag = tap(card)
    tag.write_page(spec.cfg1, b"\x80\x00\x00\x00")
    tag.protect(b"pass", b"ok", 10)
    assert card.page(spec.cfg1)[0] == 0x00
    tag = tap(card, product_hint="NTAG213")
    assert len(tag.read_pages(0, 41)) == 164


def test_read_of_protected_pages_is_auth_error() -> None:
    card = NtagEmulator("MF0UL21")
    spec = PRODUCTS["MF0UL21"]
    tag = tap(card)
    tag.write_page(spec.cfg1, b"\x80\x05\x00\x00")
    tag.write_page(spec.cfg0, b"\x00\x00\x00\x08")
    tag = tap(card, product_hint="MF0UL21")
    with pytest.raises(CardAuthError, match="need the password"):
        tag.read_pages(4, 8)


def test_auth_limit_reached() -> None:
    card = NtagEmulator("MF0UL11")
    spec = PRODUCTS["MF0UL11"]
    tag = tap(card)
    tag.write_page(spec.cfg1, b"\x01\x05\x00\x00")
    with pytest.raises(CardAuthError, match="refused the password"):
        tap(card).authenticate(b"bad!")
    with pytest.raises(CardAuthError, match="too many"):
        tap(card).authenticate(b"\xff\xff\xff\xff")


@pytest.mark.parametrize("product", ["MF0UL11", "MF0UL21"])
def test_ultralight_counter(product: str) -> None:
    card = NtagEmulator(product)
    tag = tap(card)
    assert tag.read_counter() == 0
    tag.increment_counter()
    tag.increment_counter()
    assert tag.read_counter() == 2 and card.counter(0) == 2


def test_counter_at_maximum() -> None:
    card = NtagEmulator("MF0UL21")
    image = bytearray(card.snapshot())
    image[41 * 4: 41 * 4 + 3] = b"\xff\xff\xff"
    card.restore(bytes(image))
    with pytest.raises(CardError, match="maximum"):
        tap(card).increment_counter()


def test_ntag_has_no_incr_cnt_but_nfc_counter_reads() -> None:
    card = NtagEmulator("NTAG215")
    tag = tap(card)
    assert tag.read_counter() is None
    with pytest.raises(CardError, match="no INCR_CNT"):
        tag.increment_counter()
    tag.write_page(PRODUCTS["NTAG215"].cfg1, b"\x10\x00\x00\x00")
    tag = tap(card)
    tag.read_pages(0, 4)
    assert tag.read_nfc_counter() == 1
    with pytest.raises(CardError, match="no NFC counter"):
        tap(NtagEmulator("MF0UL11")).read_nfc_counter()


@pytest.mark.parametrize("product", ALL)
def test_signature_check_with_configured_key(product: str) -> None:
    key = generate_signing_key()
    card = NtagEmulator(product, signature_key=key)
    tag = tap(card, check_signature=True, signature_public_key=public_key_bytes(key).hex())
    assert tag.exchanges == 2
    other = generate_signing_key()
    with pytest.raises(UnsupportedCard, match="originality signature"):
        tap(card, check_signature=True, signature_public_key=public_key_bytes(other))
    with pytest.raises(UnsupportedCard, match="originality signature"):
        tap(card, check_signature=True)  # NXP's key by default: an emulator is not a genuine chip


def test_unsigned_card_fails_signature_check() -> None:
    key = generate_signing_key()
    with pytest.raises(UnsupportedCard, match="originality"):
        tap(NtagEmulator("NTAG215"), check_signature=True, signature_public_key=public_key_bytes(key))


@pytest.mark.parametrize(
    ("uid", "sig", "key"),
    [
        ("04E10CDA993C80", "8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3", NXP_NTAG21X_PUBLIC_KEY),
        ("04C1285A373080", "CEA2EB0B3C95D0844A95B824A7553703B3702378033BF0987899DB70151A19E7",
         NXP_ULTRALIGHT_EV1_PUBLIC_KEY),
    ],
)
def test_nxp_keys_verify_published_genuine_signatures(uid: str, sig: str, key: bytes) -> None:
    assert verify_originality(bytes.fromhex(uid), bytes.fromhex(sig), key)
    assert not verify_originality(bytes.fromhex(uid[:-2] + "81"), bytes.fromhex(sig), key)


def test_genuine_signature_passes_driver_with_nxp_default_key() -> None:
    uid = bytes.fromhex("04E10CDA993C80")
    sig = bytes.fromhex("8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3")
    tag = tap(NtagEmulator("NTAG213", uid=uid, signature=sig), check_signature=True)
    assert tag.info.product == "NTAG213"


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        (ClassicEmulator(), "MIFARE Classic"),
        (BankCardEmulator(), "bank card"),
        (PhoneEmulator(), "phone"),
    ],
)
def test_foreign_cards_refused_without_writing(card: ClassicEmulator, reason: str) -> None:
    with pytest.raises(UnsupportedCard, match=reason) as err:
        tap(card)
    assert "\n" not in str(err.value)
    assert card.write_attempts == 0 and card.commands == 0


class _SmallChip(NtagEmulator):
    """An NTAG210 (GET_VERSION answers with storage size 0B) or an Ultralight without GET_VERSION."""

    def __init__(self, version: bytes | None) -> None:
        super().__init__("MF0UL11")
        self._version = version
        self.writes = 0

    def _command(self, cmd: bytes) -> bytes | None:
        if cmd[0] == 0xA2:
            self.writes += 1
        if cmd == b"\x60":
            return self._version if self._version is not None else self._nak(0)
        return super()._command(cmd)


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (bytes.fromhex("0004040101000b03"), "NTAG210"),
        (None, "without GET_VERSION"),
        (bytes.fromhex("0004049901001103"), "unsupported chip"),
    ],
)
def test_too_small_or_unknown_chips_refused(version: bytes | None, reason: str) -> None:
    card = _SmallChip(version)
    with pytest.raises(UnsupportedCard, match=reason):
        tap(card)
    assert card.writes == 0


def test_card_leaving_mid_write_is_card_removed() -> None:
    card = NtagEmulator("NTAG215")
    reader = EmulatedReader()
    tag = tap(card, reader)
    card.tear_after(1, partial_bytes=2)
    with pytest.raises(CardRemoved):
        tag.write_page(10, b"torn")
    assert card.page(10) == b"to\x00\x00"
    assert reader.wait_for_removal(timeout=0)
    with pytest.raises(CardRemoved):
        tag.read_pages(0, 1)


def test_removed_card_and_silent_card() -> None:
    card = NtagEmulator("NTAG215")
    reader = EmulatedReader()
    tag = tap(card, reader)
    image = bytearray(card.snapshot())
    image[11] = 0xFF  # static lock byte 1: L8..L15
    card.restore(bytes(image))
    with pytest.raises(CardAuthError, match="page 8"):
        tag.write_page(8, b"lock")
    with pytest.raises(CardRemoved, match="did not answer"):  # a NAK'd chip stays silent
        tag.read_pages(4, 1)
    reader.remove()
    with pytest.raises(CardRemoved):
        tag.read_pages(4, 1)


def test_reader_level_failures_are_reader_errors() -> None:
    class Broken:
        atr = NtagEmulator().atr

        def transmit(self, apdu: bytes) -> bytes:
            raise OSError("USB device gone")

        def close(self) -> None:
            pass

    with pytest.raises(ReaderError, match="USB device gone"):
        identify(Broken())  # type: ignore[arg-type]

    class Refusing(Broken):
        def transmit(self, apdu: bytes) -> bytes:
            return b"\x6a\x81"

    with pytest.raises(ReaderError, match="does not support"):
        identify(Refusing())  # type: ignore[arg-type]


def test_acr122_framing() -> None:
    assert Acr122.direct(b"\x60") == bytes.fromhex("FF00000003D44260")
    assert Acr122.card_answer(bytes.fromhex("D5430100"), "x") is None
    with pytest.raises(ReaderError):
        Acr122.card_answer(b"\x01\x02\x03", "x")


def test_emulated_reader_waits_without_sleeping() -> None:
    reader = open_reader("emulated")
    assert isinstance(reader, EmulatedReader)
    with pytest.raises(NoCard):
        reader.wait_for_card(timeout=0)
    card = NtagEmulator()
    threading.Thread(target=reader.place, args=(card,)).start()
    conn = reader.wait_for_card(timeout=5)
    assert conn.atr == card.atr
    with pytest.raises(ReaderError, match="already in use"):
        reader.wait_for_card(timeout=0)
    conn.close()
    assert not reader.wait_for_removal(timeout=0)
    reader.remove()
    assert reader.wait_for_removal(timeout=0)
    reader.close()
    with pytest.raises(ReaderError, match="closed"):
        reader.wait_for_card(timeout=0)


def test_open_reader_unknown_backend() -> None:
    with pytest.raises(ReaderError, match="unknown reader backend"):
        open_reader("bluetooth")


def test_identify_rejects_unknown_hint() -> None:
    reader = EmulatedReader()
    reader.place(NtagEmulator())
    with pytest.raises(ValueError, match="unknown product"):
        identify(reader.wait_for_card(0), product_hint="NTAG424")
