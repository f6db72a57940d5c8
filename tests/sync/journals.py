"""Build terminal journals for sync tests without cards: entries as the wallet would write them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.enrollment import enroll
from sync.collector.storage import Store
from sync.format.keys import public_hex
from terminal.wallet.journal import Journal, open_journal

EVENT = "test-event"


@dataclass
class Cards:
    """The true state of every card (what a wristband would hold)."""

    balance: dict[int, int] = field(default_factory=dict)
    seq: dict[int, int] = field(default_factory=dict)


@dataclass
class Term:
    journal: Journal
    key: Ed25519PrivateKey
    cards: Cards

    @property
    def terminal_id(self) -> int:
        return self.journal.terminal_id

    def book(self, op: str, card: int, amount: int, *, method: str | None = None, items: list | None = None,
             card_seq: int | None = None, balance_before: int | None = None) -> dict:
        """Intent + card write + commit, like the wallet; `card_seq`/`balance_before` override to fake fraud."""
        before = self.cards.balance.get(card, 0) if balance_before is None else balance_before
        delta = {"issue": amount, "topup": amount, "void": amount, "sale": -amount, "close": -amount}[op]
        seq = self.cards.seq.get(card, 0) + 1 if card_seq is None else card_seq
        intent = self.journal.append(op, "intent", amount=amount, card_id=card, uid=f"04{card:012x}", card_seq=seq,
                                     balance_before=before, balance_after=before + delta, method=method,
                                     items=items, operator="op1")
        self.cards.balance[card] = before + delta
        self.cards.seq[card] = seq
        return self.journal.append(op, "commit", amount=amount, ref=intent["seq"], card_id=card,
                                   uid=f"04{card:012x}", card_seq=seq, balance_before=before,
                                   balance_after=before + delta, method=method, items=items, operator="op1")


def make_terminal(tmp: Path, terminal_id: int, cards: Cards, store: Store | None = None, *,
                  event_id: str = EVENT, vendor: str = "Grill", role: str = "cashier") -> Term:
    journal = open_journal(tmp / f"t{terminal_id}" / "journal.db", terminal_id=terminal_id, event_id=event_id,
                           currency="EUR")
    key = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
    if store is not None:
        enroll(store, terminal_id, public_hex(key), role=role, vendor=vendor)
    return Term(journal=journal, key=key, cards=cards)


def configured_terminal(tmp_path: Path, tid: int, master_key: bytes = bytes(16)) -> tuple[Path, Term]:
    """A terminal with terminal.toml and keys.toml, as `stallpay sync` opens it; returns (config path, Term)."""
    from terminal.config import new_keys_text, write_config, write_secret_file
    from terminal.uplink.terminal_side import open_terminal

    d = tmp_path / f"term{tid}"
    write_secret_file(d / "keys.toml", new_keys_text(EVENT, master_key))
    write_config(d / "terminal.toml", {"event": {"id": EVENT, "currency": "EUR"},
                                       "terminal": {"id": tid, "vendor": "Grill"},
                                       "paths": {"data": "data", "keys": "keys.toml"}})
    ts = open_terminal(d / "terminal.toml")
    return d / "terminal.toml", Term(journal=ts.journal, key=ts.key, cards=Cards())
