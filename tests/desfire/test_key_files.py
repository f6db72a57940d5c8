"""`stallpay init --keys FULL --mode M`: the terminal's key file holds what its mode needs and nothing that lets
a vendor terminal put money on a DESFire band or change its keys, as the card's own access rules show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.config import load_keys
from terminal.nfc.desfire import MAC, DesfireAccessDenied
from terminal.nfc.desfire_purse import KEY_NO, PURSE_FILE
from terminal.nfc.emulator import DesfireEmulator
from terminal.wallet.desfire_keys import card_key, event_aid
from tests.desfire.conftest import EVENT, Clock, make_desk


def _init(tmp_path: Path, name: str, *args: str) -> Path:
    assert main(["init", "--dir", str(tmp_path / name), *args]) == 0
    return tmp_path / name / "keys.toml"


def test_role_limited_key_files_and_what_the_card_lets_them_do(tmp_path: Path) -> None:
    full = _init(tmp_path, "org", "--event", EVENT)
    sale = load_keys(_init(tmp_path, "stall", "--terminal", "2", "--mode", "sale", "--keys", str(full)))
    cashier = load_keys(_init(tmp_path, "cash", "--terminal", "1", "--mode", "cashier", "--keys", str(full)))
    for path in (tmp_path / "stall" / "keys.toml", tmp_path / "cash" / "keys.toml"):
        assert path.stat().st_mode & 0o777 == 0o600
    assert set(sale.desfire) == {"debit", "read", "escrow_public"}
    assert set(cashier.desfire) == {"credit", "debit", "read", "escrow_public"}
    assert sale.terminal_signing_key != cashier.terminal_signing_key  # each terminal signs as itself

    clock = Clock()
    issuing = make_desk(tmp_path, 1, cashier.desfire, clock)
    card = DesfireEmulator()
    issuing.wallet.issue(issuing.tap(card), 2_000)
    stall = make_desk(tmp_path, 2, sale.desfire, clock)
    for role in ("debit", "read"):
        for attempt in ("credit", "change_key", "change_amk"):
            purse = stall.tap(card)
            key = card_key(sale.desfire[role], card.uid, EVENT)
            purse.open(event_aid(EVENT), role, key)
            with pytest.raises(DesfireAccessDenied):
                if attempt == "credit":
                    purse.credit(10_000)
                elif attempt == "change_key":
                    purse.card.change_key(KEY_NO["debit"], bytes(16), key)
                else:
                    purse.card.change_key(0, bytes(16), key)
    assert card.app(event_aid(EVENT)).files[PURSE_FILE].value == 2_000
    # while the cashier's credit key can
    purse = issuing.tap(card)
    purse.open(event_aid(EVENT), "credit", card_key(cashier.desfire["credit"], card.uid, EVENT))
    purse.card.credit(PURSE_FILE, 1, MAC)
    purse.commit()
    assert card.app(event_aid(EVENT)).files[PURSE_FILE].value == 2_001


def test_keys_of_the_wrong_size_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = _init(tmp_path, "org", "--event", EVENT)
    original = full.read_text()
    bogus = original.replace("[desfire]\n", '[desfire]\nbogus = "00"\n')
    short = re.sub(r'\ncredit = "[0-9a-f]+"', '\ncredit = "0011"', original)
    for text, message in ((bogus, "not a key StallPay knows"), (short, "credit must be 16 bytes")):
        full.write_text(text)
        assert main(["init", "--dir", str(tmp_path / "t"), "--keys", str(full)]) == 2
        assert message in capsys.readouterr().err
