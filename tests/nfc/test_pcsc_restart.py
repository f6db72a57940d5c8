"""pcscd going away and coming back, which is what an unplugged and replugged reader looks like to the till."""

from __future__ import annotations

import threading

import pytest

from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.pcsc import PcscReader
from terminal.nfc.reader import ReaderError
from terminal.wallet.card import CardRemoved

pytestmark = pytest.mark.pcsc

UID = bytes.fromhex("04112233445566")
GET_UID = bytes.fromhex("FFCA000000")


def test_pcscd_killed_mid_session_gives_reader_error_then_recovers(pcscd, vpcd_card):
    vpcd_card.insert(NtagEmulator("NTAG215", uid=UID))
    reader = PcscReader(vpcd_card.reader_name)
    idle = PcscReader("Virtual PCD 00 01")  # no card there: it sits in SCardGetStatusChange when pcscd dies
    conn = reader.wait_for_card(timeout=3)
    assert conn.transmit(GET_UID) == UID + b"\x90\x00"
    waiting: list[BaseException] = []

    def wait_on_idle_reader() -> None:
        try:
            idle.wait_for_card(timeout=30)
        except BaseException as exc:
            waiting.append(exc)

    waiter = threading.Thread(target=wait_on_idle_reader)
    waiter.start()
    try:
        waiter.join(timeout=0.3)
        assert waiter.is_alive()  # blocked in pcscd, not polling
        pcscd.kill()
        with pytest.raises(ReaderError, match="Virtual PCD 00 00") as raised:
            conn.transmit(GET_UID)
        assert isinstance(raised.value, CardRemoved)  # the wallet treats the exchange as torn
        waiter.join(timeout=5)
        assert len(waiting) == 1 and isinstance(waiting[0], ReaderError), waiting
        assert "Virtual PCD 00 01" in str(waiting[0])
        with pytest.raises(ReaderError, match="pcscd"):
            reader.wait_for_card(timeout=1)
    finally:
        pcscd.restart()
    # Same reader objects, same bridge, same process: the bridge reconnects to the new vpcd by itself.
    assert vpcd_card.wait_attached(timeout=5)
    with reader.wait_for_card(timeout=5) as conn:
        assert conn.transmit(GET_UID) == UID + b"\x90\x00"
    assert idle.wait_for_removal(timeout=1)  # the other slot works again too
    reader.close()
    idle.close()
