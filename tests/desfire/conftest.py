"""Two terminals of one event (a cashier and a vendor stall) and DESFire cards in an in-process reader."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from terminal.config import new_desfire_keys, role_limited
from terminal.nfc.desfire import DesfireCard
from terminal.nfc.desfire_purse import DesfirePurse
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import DesfireEmulator
from terminal.wallet.journal import open_journal
from terminal.wallet.operations import Wallet
from terminal.wallet.rules import Limits
from tests.wallet.conftest import FakeClock as Clock

EVENT = "fest-2026"


@dataclass
class Desk:
    """One terminal: its wallet (with a role-limited key set) and its reader."""

    wallet: Wallet
    reader: EmulatedReader

    def tap(self, card: DesfireEmulator) -> DesfirePurse:
        self.reader.remove()
        self.reader.place(card)
        return DesfirePurse(DesfireCard(self.reader.wait_for_card(0)))

    def journal_balance(self, card_id: int) -> int:
        sign = {"issue": 1, "topup": 1, "void": 1, "sale": -1, "close": -1}
        return sum(sign[e["op"]] * e["amount"] for e in self.wallet.journal.entries(card_id=card_id)
                   if e["phase"] == "commit")


@dataclass
class Event:
    full_keys: dict[str, bytes]
    cashier: Desk
    vendor: Desk
    clock: Clock


def make_desk(tmp: Path, terminal_id: int, keys: dict[str, bytes], clock: Clock, max_balance: int = 50_000) -> Desk:
    journal = open_journal(tmp / f"journal-{terminal_id}.db", terminal_id=terminal_id, event_id=EVENT,
                           currency="EUR")
    wallet = Wallet(journal=journal, master_key=os.urandom(16), event_id=EVENT, terminal_id=terminal_id,
                    limits=Limits(max_balance=max_balance, max_sale=20_000), clock=clock, desfire_keys=keys)
    return Desk(wallet, EmulatedReader(f"reader-{terminal_id}"))


@pytest.fixture
def shm_path(tmp_path: Path) -> Iterator[Path]:
    """A directory in RAM where there is one: the campaigns' journals fsync thousands of times."""
    if not os.path.isdir("/dev/shm"):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="stallpay-test-") as d:
        yield Path(d)


@pytest.fixture
def event(tmp_path: Path) -> Iterator[Event]:
    yield from _event(tmp_path)


@pytest.fixture
def fast_event(shm_path: Path) -> Iterator[Event]:
    yield from _event(shm_path)


def _event(tmp_path: Path) -> Iterator[Event]:
    full = {k: bytes.fromhex(v) for k, v in new_desfire_keys().items()}
    clock = Clock()
    cashier = make_desk(tmp_path, 1, role_limited(full, "cashier"), clock)
    vendor = make_desk(tmp_path, 2, role_limited(full, "sale"), clock)
    yield Event(full, cashier, vendor, clock)
    for desk in (cashier, vendor):
        desk.reader.close()
        desk.wallet.journal.db.close()
