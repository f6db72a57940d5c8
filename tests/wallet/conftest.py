"""A terminal's wallet on a temporary journal, with an in-process emulated reader."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.ntag import NtagTag, identify
from terminal.wallet.journal import open_journal
from terminal.wallet.operations import Wallet
from terminal.wallet.rules import Limits

EVENT = "fest-2026"


@dataclass
class FakeClock:
    now: float = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Till:
    """One terminal with its reader: tap a card, run an operation, check the books."""

    wallet: Wallet
    reader: EmulatedReader
    clock: FakeClock
    master_key: bytes
    cards: list[NtagEmulator] = field(default_factory=list)

    def tap(self, card: NtagEmulator) -> NtagTag:
        self.reader.remove()
        self.reader.place(card)
        return identify(self.reader.wait_for_card(0), lazy=True)

    def new_card(self, product: str = "NTAG215") -> NtagEmulator:
        card = NtagEmulator(product=product)
        self.cards.append(card)
        return card

    def journal_balance(self, card_id: int) -> int:
        """The card's balance as the journal's commit entries say."""
        total = 0
        for e in self.wallet.journal.entries(card_id=card_id):
            if e["phase"] != "commit":
                continue
            sign = {"issue": 1, "replace": 1, "topup": 1, "void": 1, "sale": -1, "close": -1}[e["op"]]
            total += sign * e["amount"]
        return total


def make_till(path: Path, *, terminal_id: int = 7, master_key: bytes | None = None, limits: Limits | None = None,
              clock: FakeClock | None = None, db_name: str = "journal.db") -> Till:
    master = master_key or os.urandom(16)
    clock = clock or FakeClock()
    journal = open_journal(path / db_name, terminal_id=terminal_id, event_id=EVENT, currency="EUR")
    wallet = Wallet(journal=journal, master_key=master, event_id=EVENT, terminal_id=terminal_id,
                    limits=limits or Limits(max_balance=100_000, max_sale=20_000, void_window_s=600), clock=clock)
    return Till(wallet=wallet, reader=EmulatedReader(), clock=clock, master_key=master)


@pytest.fixture
def till(tmp_path: Path) -> Iterator[Till]:
    t = make_till(tmp_path)
    yield t
    t.reader.close()
