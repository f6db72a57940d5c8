"""Every wallet operation through the real stack: pyscard -> pcscd -> vpcd -> emulated wristband."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.nfc.emulator import ClassicEmulator, NtagEmulator
from terminal.nfc.ntag import NtagTag, identify
from terminal.nfc.pcsc import PcscReader
from terminal.wallet.card import UnsupportedCard
from terminal.wallet.operations import TapAgain
from terminal.wallet.rules import Declined
from tests.nfc.test_pcsc_emulator_cli import READER, _attach, _first_line, _stop
from tests.wallet.conftest import Till, make_till

pytestmark = pytest.mark.pcsc


class PcscTill:
    """A till whose reader is the vpcd virtual reader; taps go through pcscd."""

    def __init__(self, till: Till, bridge, reader: PcscReader) -> None:
        self.till, self.bridge, self.reader = till, bridge, reader
        self.connection = None

    def tap(self, card) -> NtagTag:
        if self.connection is not None:
            self.connection.close()
            self.bridge.remove()
            assert self.reader.wait_for_removal(timeout=5)
        self.bridge.insert(card)
        self.connection = self.reader.wait_for_card(timeout=5)
        return identify(self.connection, lazy=True)


@pytest.fixture
def ptill(vpcd_card, tmp_path: Path) -> Iterator[PcscTill]:
    with PcscReader(vpcd_card.reader_name) as reader:
        t = PcscTill(make_till(tmp_path), vpcd_card, reader)
        yield t
        if t.connection is not None:
            t.connection.close()


def test_every_operation_through_pcscd_keeps_the_books(ptill: PcscTill) -> None:
    w = ptill.till.wallet
    card = NtagEmulator("NTAG215")
    issued = w.issue(ptill.tap(card), 3000, method="cash", operator="c1")
    card_id = issued.state.card_id
    assert w.read(ptill.tap(card)).balance == 3000
    w.topup(ptill.tap(card), 1000, method="voucher")
    tag = ptill.tap(card)
    w.charge(tag, 1500, items=[{"sku": "b", "name": "Beer", "qty": 3, "unit_price": 500}])
    assert tag.exchanges == 8  # FAST_READ, PWD_AUTH, 6 WRITEs: no GET_VERSION on an issued card
    w.void(ptill.tap(card))
    with pytest.raises(Declined) as exc:
        w.charge(ptill.tap(card), 9000)
    assert exc.value.code == "insufficient_funds" and exc.value.missing == 5000
    closed = w.close(ptill.tap(card))
    assert closed.extra["refund"] == 4000 and closed.state.status == "closed"
    assert ptill.till.journal_balance(card_id) == 0 == w.read(ptill.tap(card)).balance
    new = NtagEmulator("NTAG213")
    out = w.replace(ptill.tap(new), old_card_id=card_id, balance=700)
    assert w.read(ptill.tap(new)).balance == 700 == ptill.till.journal_balance(out.state.card_id)
    assert w.journal.verify_chain() > 0 and not w.pending()


def test_card_pulled_mid_sale_through_pcscd_settles_at_next_tap(ptill: PcscTill) -> None:
    w = ptill.till.wallet
    card = NtagEmulator("NTAG215")
    card_id = w.issue(ptill.tap(card), 2000).state.card_id
    for partial in (None, 2):
        tag = ptill.tap(card)
        card.tear_after(6, partial)
        with pytest.raises(TapAgain):
            w.charge(tag, 300)
        state = w.read(ptill.tap(card))
        assert not w.pending()
        assert state.balance == ptill.till.journal_balance(card_id)


def test_unknown_card_through_pcscd_is_refused(ptill: PcscTill) -> None:
    ptill.bridge.insert(ClassicEmulator())
    ptill.connection = ptill.reader.wait_for_card(timeout=5)
    with pytest.raises(UnsupportedCard, match="MIFARE Classic"):
        identify(ptill.connection, lazy=True)


def test_card_cli_on_a_card_attached_from_outside(pcscd, tmp_path: Path) -> None:
    """A technician's shell: the emulator is another program; the CLI only knows the PC/SC reader's name."""
    env = {**os.environ}
    cli = [sys.executable, "-m", "terminal.cli"]
    subprocess.run([*cli, "init", "--dir", str(tmp_path), "--event", "ext", "--mode", "cashier"], check=True,
                   capture_output=True)
    config = str(tmp_path / "terminal.toml")
    attached = _attach("--product", "NTAG215", "--state", str(tmp_path / "band.json"))
    try:
        _first_line(attached)

        def card(*args: str) -> tuple[int, dict]:
            done = subprocess.run([*cli, "card", *args, "--config", config, "--reader", READER, "--json",
                                   "--timeout", "5"], capture_output=True, text=True, env=env, timeout=60)
            return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])

        code, data = card("issue", "--amount-minor", "1200")
        assert code == 0 and data["balance"] == 1200 and data["product"] == "NTAG215"
        assert card("read")[1]["balance"] == 1200
        code, data = card("charge", "--amount-minor", "200")
        assert code == 0 and data["balance"] == 1000
        code, data = card("charge", "--amount-minor", "5000")
        assert code == 1 and data["error"] == "insufficient_funds"
    finally:
        _stop(attached)
