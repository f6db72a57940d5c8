"""The DESFire emulator as a backend: state files, snapshots, hostile APDUs, and `emulator attach` arguments."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.nfc import desfire_setup
from terminal.nfc.desfire import MAC, PICC, DesfireCard, DesfireError, is_desfire_atr
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import DesfireEmulator, load_card
from terminal.wallet.card import CardRemoved


def _connect(card: DesfireEmulator) -> DesfireCard:
    reader = EmulatedReader()
    reader.place(card)
    return DesfireCard(reader.wait_for_card(0))


def test_state_file_is_private_and_round_trips(tmp_path: Path) -> None:
    card = DesfireEmulator("DESFIRE_EV3", random_uid=True)
    c = _connect(card)
    c.select(PICC)
    desfire_setup.create_application(c, b"\x53\x01\x02", 0x0B, 4)
    path = tmp_path / "band.json"
    card.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_card(path)
    assert isinstance(loaded, DesfireEmulator)
    assert loaded.snapshot() == card.snapshot() and loaded.random_uid and loaded.product == "DESFIRE_EV3"
    (tmp_path / "bad.json").write_text('{"format": "stallpay-desfire-emulator/1", "uid": "zz"}')
    with pytest.raises(ValueError, match="cannot read card state file"):
        DesfireEmulator.load(tmp_path / "bad.json")


def test_snapshot_restore_and_uncommitted_changes_are_not_kept() -> None:
    card = DesfireEmulator()
    c = _connect(card)
    aid = b"\x53\x01\x02"
    c.select(PICC)
    desfire_setup.create_application(c, aid, 0x0F, 2)  # free create: files without authentication
    c.select(aid)
    c.authenticate(0, bytes(16))
    desfire_setup.create_value_file(c, 2, MAC, bytes.fromhex("0000"), 0, 100, 50, False)
    before = card.snapshot()
    c.credit(2, 10, MAC)
    assert card.snapshot() == before  # staged, not committed
    c.commit()
    assert card.app(aid).files[2].value == 60  # type: ignore[union-attr]
    card.restore(before)
    assert card.app(aid).files[2].value == 50  # type: ignore[union-attr]
    c = _connect(card)
    c.select(aid)
    c.authenticate(0, bytes(16))
    with pytest.raises(DesfireError) as refused:
        c.credit(2, 51, MAC)
    assert refused.value.code == 0xBE  # above the upper limit
    assert c.session is None  # an error ends the session, on the card and in the driver


def test_torn_card_answers_nothing_until_the_next_tap() -> None:
    card = DesfireEmulator()
    c = _connect(card)
    card.tear_after(1, executed=False)
    with pytest.raises(CardRemoved):
        c.select(PICC)
    with pytest.raises(CardRemoved):
        c.select(PICC)


def test_hostile_apdus_get_status_words_never_exceptions() -> None:
    card = DesfireEmulator()
    assert is_desfire_atr(card.atr)
    rng = random.Random(7)
    for _ in range(3000):
        apdu = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        if rng.random() < 0.7:
            body = apdu[:30]
            apdu = bytes([0x90, rng.choice([0x5A, 0x71, 0x77, 0xAF, 0xCA, 0xC4, 0xBD, 0x3D, 0x6C, 0x0C, 0xDC, 0x1C,
                                            0xBB, 0x3B, 0xC7, 0xA7, 0xCD, 0xCC, 0xC0, 0x51, 0xDA, 0x60]), 0, 0,
                          len(body)]) + body + b"\x00"
        answer = card.transmit(apdu)
        assert len(answer) >= 2


@pytest.mark.parametrize(("args", "message"), [
    (["--product", "NTAG215", "--random-uid"], "--random-uid is for DESFire"),
    (["--product", "DESFIRE_EV9"], "unknown --product"),
])
def test_attach_refuses_bad_desfire_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["emulator", "attach", *args]) == 2
    assert message in capsys.readouterr().err
