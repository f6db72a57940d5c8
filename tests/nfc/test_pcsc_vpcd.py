"""The vpcd wire protocol of VpcdBridge, against a stand-in for vpcd's socket (no pcscd needed)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.vpcd import VpcdBridge, reader_name_for_port

UID = bytes.fromhex("04010203040506")


class FakeVpcd:
    """The listening end vpcd would be: accepts the bridge and sends it length-prefixed messages."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(5)
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.conn, _ = self.server.accept()
        self.conn.settimeout(5)

    def send(self, payload: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(struct.pack("!H", len(payload)) + payload)

    def receive(self) -> bytes | None:
        """One message back, or None when the bridge closed the connection."""
        assert self.conn is not None
        header = self.conn.recv(2, socket.MSG_WAITALL)
        if len(header) < 2:
            return None
        (size,) = struct.unpack("!H", header)
        return self.conn.recv(size, socket.MSG_WAITALL)

    def ask(self, payload: bytes) -> bytes | None:
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


@pytest.fixture
def bridge(vpcd: FakeVpcd) -> Iterator[VpcdBridge]:
    with VpcdBridge("127.0.0.1", vpcd.port) as b:
        yield b


def test_bridge_answers_atr_power_and_apdus(vpcd, bridge):
    card = NtagEmulator("NTAG215", uid=UID)
    bridge.insert(card)
    vpcd.accept()
    assert bridge.wait_attached(timeout=5)
    assert vpcd.ask(b"\x04") == card.atr  # GET ATR
    vpcd.send(b"\x01")  # power on: no answer
    assert vpcd.ask(bytes.fromhex("FFCA000000")) == UID + b"\x90\x00"  # so this is the next message
    vpcd.send(b"\x02")  # reset
    vpcd.send(b"\x00")  # power off
    assert vpcd.ask(bytes.fromhex("FFB0000010"))[-2:] == b"\x90\x00"


def test_power_on_starts_a_new_field_session(vpcd, bridge):
    card = NtagEmulator("NTAG215", uid=UID)
    card.leave_field()
    bridge.insert(card)
    vpcd.accept()
    vpcd.send(b"\x01")
    assert vpcd.ask(bytes.fromhex("FFCA000000")) == UID + b"\x90\x00"


def test_a_torn_card_drops_the_connection_and_leaves_the_reader(vpcd, bridge):
    card = NtagEmulator("NTAG215", uid=UID)
    bridge.insert(card)
    vpcd.accept()
    card.tear_after(1)
    assert vpcd.ask(bytes.fromhex("FFCA000000")) is None  # connection closed: vpcd sees the card gone
    assert bridge.card is None


def test_remove_closes_and_insert_reconnects(vpcd, bridge):
    card = NtagEmulator("NTAG215", uid=UID)
    bridge.insert(card)
    vpcd.accept()
    assert bridge.wait_attached(timeout=5)
    bridge.remove()
    assert vpcd.receive() is None
    bridge.insert(card)
    vpcd.accept()
    assert vpcd.ask(b"\x04") == card.atr


def test_bridge_reconnects_when_vpcd_restarts(vpcd, bridge):
    card = NtagEmulator("NTAG215", uid=UID)
    bridge.insert(card)
    vpcd.accept()
    assert vpcd.conn is not None
    vpcd.conn.close()  # pcscd went away; the listening socket stays like a restarted vpcd's would
    vpcd.accept()
    assert vpcd.ask(b"\x04") == card.atr


def test_exchange_hook_sees_every_apdu_including_a_torn_one(vpcd):
    seen: list[bytes] = []
    with VpcdBridge("127.0.0.1", vpcd.port, on_exchange=lambda c: seen.append(c.page(4))) as bridge:
        card = NtagEmulator("NTAG215", uid=UID)
        bridge.insert(card)
        vpcd.accept()
        assert vpcd.ask(bytes.fromhex("FFD6000404CAFEBABE")) == b"\x90\x00"
        card.tear_after(1, partial_bytes=1)
        assert vpcd.ask(bytes.fromhex("FFD600040411223344")) is None
    assert seen == [bytes.fromhex("CAFEBABE"), bytes.fromhex("11FEBABE")]


def test_an_emulator_bug_answers_6f00_and_keeps_the_card(vpcd, bridge):
    class Broken:
        atr = b"\x3b\x00"

        def power_on(self) -> None:
            pass

        def transmit(self, apdu: bytes) -> bytes:
            raise KeyError("bug")

    bridge.insert(Broken())
    vpcd.accept()
    assert vpcd.ask(b"\x00\xa4\x04\x00") == b"\x6f\x00"
    assert vpcd.ask(b"\x04") == b"\x3b\x00"


def test_insert_before_start_restart_after_stop_and_bad_port_are_refused():
    bridge = VpcdBridge()
    with pytest.raises(RuntimeError, match="start"):
        bridge.insert(NtagEmulator("NTAG215"))
    bridge.start().stop()
    with pytest.raises(RuntimeError, match="new VpcdBridge"):
        bridge.start()
    with pytest.raises(ValueError, match="port"):
        VpcdBridge(port=70000)


def test_unreachable_vpcd_is_reported_while_retrying():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with VpcdBridge("127.0.0.1", port) as bridge:
        bridge.insert(NtagEmulator("NTAG215"))
        assert not bridge.wait_attached(timeout=0.3)
        assert bridge.last_error is not None and f"127.0.0.1:{port}" in bridge.last_error


def test_reader_names_follow_the_port():
    assert reader_name_for_port(35963) == "Virtual PCD 00 00"
    assert reader_name_for_port(35964) == "Virtual PCD 00 01"
