"""`stallpay emulator attach` as another program would use it: a subprocess, read with plain pyscard."""

from __future__ import annotations

import json
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from terminal.cli import main

UID = "04C0FFEE123456"
READER = "Virtual PCD 00 01"
PORT = 35964


def _attach(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "terminal.cli", "emulator", "attach", "--port", str(PORT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen[str], deadline: float = 15.0) -> str:
    """The announcement line, which the command prints once the card is connected to vpcd."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(deadline):
            process.kill()
            pytest.fail(f"stallpay emulator attach said nothing within {deadline:g} s")
    line = process.stdout.readline()
    if not line:
        pytest.fail(f"stallpay emulator attach exited: {process.wait()} {process.stderr.read()}")  # type: ignore[union-attr]
    return line


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    return out


def _plain_pyscard_session(apdus: list[list[int]]) -> list[list[int]]:
    """What any PC/SC program does: wait for a card on the reader, connect, send APDUs (no project code)."""
    from smartcard.CardRequest import CardRequest
    from smartcard.CardType import AnyCardType

    service = CardRequest(timeout=5, cardType=AnyCardType(), readers=[READER]).waitforcard()
    service.connection.connect()
    try:
        answers = []
        for apdu in apdus:
            data, sw1, sw2 = service.connection.transmit(apdu)
            answers.append([*data, sw1, sw2])
        return answers
    finally:
        service.connection.disconnect()


def _await_empty_slot() -> None:
    from smartcard import scard

    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        state = scard.SCARD_STATE_UNAWARE
        end = time.monotonic() + 3
        while time.monotonic() < end:
            hresult, states = scard.SCardGetStatusChange(context, 3000, [(READER, state)])
            assert hresult == scard.SCARD_S_SUCCESS
            state = states[0][1]
            if state & scard.SCARD_STATE_EMPTY:
                return
        pytest.fail(f"{READER} still shows a card after the emulator stopped")
    finally:
        scard.SCardReleaseContext(context)


@pytest.mark.pcsc
def test_attached_card_is_read_from_outside_and_persists(pcscd, tmp_path):
    state = tmp_path / "wristband.json"
    first = _attach("--product", "NTAG215", "--uid", UID, "--state", str(state))
    try:
        line = _first_line(first)
        assert UID in line and READER in line
        uid, written, page4 = _plain_pyscard_session(
            [[0xFF, 0xCA, 0, 0, 0], [0xFF, 0xD6, 0, 4, 4, 0x12, 0x34, 0x56, 0x78], [0xFF, 0xB0, 0, 4, 16]]
        )
    finally:
        out = _stop(first)
    assert bytes(uid) == bytes.fromhex(UID) + b"\x90\x00"
    assert written == [0x90, 0x00]
    assert page4[:4] == [0x12, 0x34, 0x56, 0x78]
    assert "saved" in out
    assert json.loads(state.read_text())["uid"] == UID.lower()
    _await_empty_slot()

    second = _attach("--state", str(state))  # same card, product and UID from the state file
    try:
        assert UID in _first_line(second)
        (page4_again,) = _plain_pyscard_session([[0xFF, 0xB0, 0, 4, 16]])
    finally:
        _stop(second)
    assert page4_again[:4] == [0x12, 0x34, 0x56, 0x78]
    _await_empty_slot()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_attach_without_vpcd_fails_with_a_reason(capsys):
    code = main(["emulator", "attach", "--port", str(_free_port()), "--connect-timeout", "0.3"])
    assert code == 3
    assert "cannot reach vpcd" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--uid", "zz"], "not hex"),
        (["--uid", "0411"], "7 bytes"),
        (["--product", "NTAG999"], "unknown --product"),
        (["--port", "70000"], "--port must be"),
        (["--product", "CLASSIC1K", "--state", "x.json"], "--state is for NTAG"),
    ],
)
def test_bad_arguments_get_a_one_line_reason(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["emulator", "attach", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_state_file_of_another_card_is_refused(capsys, tmp_path: Path):
    from terminal.nfc.emulator import NtagEmulator

    state = tmp_path / "card.json"
    NtagEmulator("NTAG213", uid=bytes.fromhex(UID)).save(state)
    assert main(["emulator", "attach", "--state", str(state), "--product", "NTAG215"]) == 2
    assert "holds a NTAG213" in capsys.readouterr().err
    assert main(["emulator", "attach", "--state", str(state), "--uid", "04000000000001"]) == 2
    assert "not 04000000000001" in capsys.readouterr().err
