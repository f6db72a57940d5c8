"""PcscReader through the real stack: pyscard -> pcscd -> vpcd -> VpcdBridge -> emulated wristband."""

from __future__ import annotations

import threading
import time

import pytest

from terminal.nfc.emulator import (
    BankCardEmulator,
    ClassicEmulator,
    NtagEmulator,
    PhoneEmulator,
    storage_card_atr,
)
from terminal.nfc.ntag import identify
from terminal.nfc.pcsc import PcscReader, match_reader
from terminal.nfc.reader import NoCard, ReaderError, open_reader
from terminal.wallet.card import CardAuthError, CardRemoved, UnsupportedCard

pytestmark = pytest.mark.pcsc

UID = bytes.fromhex("04A1B2C3D4E5F6")
NTAG_ATR = bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")
GET_UID = bytes.fromhex("FFCA000000")
OK = b"\x90\x00"
PASSWORD = bytes.fromhex("11223344")
PACK = bytes.fromhex("5566")


@pytest.fixture
def reader(vpcd_card):
    with PcscReader(vpcd_card.reader_name) as r:
        yield r


def test_emulated_ntag215_shows_its_atr_and_uid(vpcd_card, reader):
    card = NtagEmulator("NTAG215", uid=UID)
    vpcd_card.insert(card)
    with reader.wait_for_card(timeout=3) as conn:
        assert conn.atr == NTAG_ATR == storage_card_atr(b"\x00\x03")
        assert conn.transmit(GET_UID) == UID + OK
        assert conn.transmit(bytes.fromhex("FFB0000010"))[:3] == UID[:3]  # page 0 = UID0..2 + BCC0


def test_open_reader_factory_gives_the_pcsc_backend(vpcd_card):
    vpcd_card.insert(NtagEmulator("NTAG215", uid=UID))
    with open_reader("pcsc", "virtual pcd 00 00") as r:
        assert isinstance(r, PcscReader)
        assert r.name == "Virtual PCD 00 00"
        with r.wait_for_card(timeout=3) as conn:
            assert conn.transmit(GET_UID) == UID + OK


def test_reader_is_chosen_by_name_pattern_or_first(pcscd):
    with PcscReader("Virtual PCD 00 01") as exact, PcscReader("*pcd*01") as glob, PcscReader("") as first:
        assert exact.name == "Virtual PCD 00 01"
        assert glob.name == "Virtual PCD 00 01"
        assert first.name == first.list_readers()[0]


def test_unknown_reader_name_is_a_reader_error_that_lists_what_is_there(pcscd):
    with PcscReader("ACR122U") as r, pytest.raises(ReaderError, match=r"no reader matching 'ACR122U'.*Virtual PCD"):
        r.wait_for_card(timeout=0.1)


def test_waiting_for_a_reader_that_is_not_plugged_times_out(pcscd):
    with PcscReader("ACR122U") as absent, PcscReader("virtual") as present:
        started = time.monotonic()
        assert absent.wait_for_reader(timeout=0.3) is False  # blocked on pcscd's reader-list notification
        assert time.monotonic() - started >= 0.3
        assert present.wait_for_reader(timeout=0) is True


def test_match_reader_rules():
    names = ["ACS ACR122U PICC Interface 00 00", "Virtual PCD 00 00", "Virtual PCD 00 01"]
    assert match_reader("", names) == names[0]
    assert match_reader("Virtual PCD 00 01", names) == "Virtual PCD 00 01"
    assert match_reader("acr122", names) == names[0]
    assert match_reader("virtual", names) == "Virtual PCD 00 00"
    assert match_reader("virtual*01", names) == "Virtual PCD 00 01"
    assert match_reader("ACR1252", names) is None
    assert match_reader("", []) is None


def retap(vpcd_card, reader, card):
    """Take the card away, wait until pcscd has seen it go, present it again: a new field session."""
    vpcd_card.remove()
    assert reader.wait_for_removal(timeout=3)
    vpcd_card.insert(card)
    return reader.wait_for_card(timeout=3)


def test_driver_fast_read_write_and_pwd_auth_through_pcscd(vpcd_card, reader):
    card = NtagEmulator("NTAG215", uid=UID)
    vpcd_card.insert(card)
    with reader.wait_for_card(timeout=3) as conn:
        tag = identify(conn)
        assert tag.info.product == "NTAG215" and tag.info.uid == UID
        tag.write_page(4, bytes.fromhex("CAFEBABE"))
        pages = tag.read_pages(0, 8)  # one FAST_READ
        assert pages[0:3] == UID[:3] and pages[16:20] == bytes.fromhex("CAFEBABE")
        tag.protect(PASSWORD, PACK, auth0=4)
    with retap(vpcd_card, reader, card) as conn, pytest.raises(CardAuthError):  # a new tap: not authenticated
        identify(conn).write_page(5, bytes.fromhex("DEADBEEF"))
    with retap(vpcd_card, reader, card) as conn:
        tag = identify(conn, product_hint="NTAG215")
        assert tag.authenticate(PASSWORD) == PACK
        tag.write_page(5, bytes.fromhex("DEADBEEF"))
        assert tag.read_pages(4, 2) == bytes.fromhex("CAFEBABEDEADBEEF")
    assert card.page(5) == bytes.fromhex("DEADBEEF")


def test_exchanges_do_not_wait_for_delayed_acks(vpcd_card, reader):
    """vpcd splits each message in two writes; without quick ACKs every APDU took ~40 ms instead of < 1 ms."""
    vpcd_card.insert(NtagEmulator("NTAG215", uid=UID))
    with reader.wait_for_card(timeout=3) as conn:
        started = time.monotonic()
        for _ in range(20):
            assert conn.transmit(GET_UID) == UID + OK
        assert time.monotonic() - started < 0.4


def test_card_torn_mid_operation_raises_card_removed(vpcd_card, reader):
    card = NtagEmulator("NTAG215", uid=UID)
    vpcd_card.insert(card)
    with reader.wait_for_card(timeout=3) as conn:
        assert conn.transmit(GET_UID) == UID + OK
        card.tear_after(1, partial_bytes=2)
        with pytest.raises(CardRemoved) as raised:
            identify(conn, product_hint="NTAG215").write_page(4, bytes.fromhex("CAFEBABE"))
        assert not isinstance(raised.value, ReaderError)  # the card left, the reader is fine
        with pytest.raises(CardRemoved):
            conn.transmit(GET_UID)
    assert card.page(4)[:2] == bytes.fromhex("CAFE")  # the torn write stored two bytes
    assert reader.wait_for_removal(timeout=3)
    assert vpcd_card.card is None


@pytest.mark.parametrize("foreign", [ClassicEmulator, BankCardEmulator, PhoneEmulator])
def test_foreign_cards_are_refused_without_a_write(vpcd_card, reader, foreign):
    card = foreign()
    vpcd_card.insert(card)
    with reader.wait_for_card(timeout=3) as conn:
        assert conn.atr == card.atr
        with pytest.raises(UnsupportedCard, match="not a StallPay wristband"):
            identify(conn)
    assert card.write_attempts == 0


def test_classic_atr_survives_the_stack(vpcd_card, reader):
    vpcd_card.insert(ClassicEmulator(uid=bytes.fromhex("DEADBEEF")))
    with reader.wait_for_card(timeout=3) as conn:
        assert conn.atr == storage_card_atr(b"\x00\x01")
        assert conn.transmit(GET_UID) == bytes.fromhex("DEADBEEF") + OK


def test_waiting_without_a_card_times_out_with_no_card(vpcd_card, reader):
    started = time.monotonic()
    with pytest.raises(NoCard, match="Virtual PCD 00 00"):
        reader.wait_for_card(timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 2.0


def test_wait_for_removal_reports_a_card_that_stays(vpcd_card, reader):
    vpcd_card.insert(NtagEmulator("NTAG215", uid=UID))
    reader.wait_for_card(timeout=3).close()
    assert reader.wait_for_removal(timeout=0.3) is False
    vpcd_card.remove()
    assert reader.wait_for_removal(timeout=3) is True


def test_connection_is_exclusive(vpcd_card, reader):
    vpcd_card.insert(NtagEmulator("NTAG215", uid=UID))
    with (
        reader.wait_for_card(timeout=3),
        PcscReader(vpcd_card.reader_name) as other,
        pytest.raises(ReaderError, match="held by another program"),
    ):
        other.wait_for_card(timeout=1)


def test_close_ends_a_wait_in_another_thread(vpcd_card):
    reader = PcscReader(vpcd_card.reader_name)
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            reader.wait_for_card(timeout=None)
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive() and not outcome  # blocked in pcscd: no card, no time-out
    reader.close()
    waiter.join(timeout=5)
    assert not waiter.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ReaderError)
