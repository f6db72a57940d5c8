"""Unblocking a card is for a band that was found: a band whose money has left it (refunded, replaced) or whose
refund is asked for stays blocked, through the CLI (as a subprocess), the REST API and the ledger alike — else its
chip balance could be spent as well as paid out. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sync.collector.backoffice.payouts import decide, request_payout
from sync.collector.ingest import ingest_many
from sync.collector.ledger import LedgerError, block_card, hotlist, unblock_card
from sync.collector.refunds import refund_cards
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from terminal.uplink.export import batches
from tests.sync.journals import Cards, make_terminal

STALLPAY = str(Path(sys.executable).with_name("stallpay"))


def _unblock(target: str, card: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STALLPAY, "collector", "unblock", "--db", target, "--card", str(card)],
                          capture_output=True, text=True, timeout=120)


def test_only_a_found_band_comes_off_the_hotlist(store: Store, store_target: str, tmp_path: Path) -> None:
    cards = Cards()
    term = make_terminal(tmp_path, 1, cards, store)
    for card in (1, 2, 3):
        term.book("issue", card, 3_000, method="cash")
    ingest_many(store, [("t1", encode(b)) for b in batches(term.journal, term.key, batch_size=10)], workers=0)
    for card in (1, 2, 3):
        block_card(store, card, "lost at the bar", source="desk")

    found = _unblock(store_target, 1)  # found by its owner: back in use
    assert found.returncode == 0 and "card 1 unblocked" in found.stdout, found.stderr

    refund_cards(store, [2], by="desk")  # refunded and closed: the chip still says 30.00
    closed = _unblock(store_target, 2)
    assert closed.returncode == 1 and "card 2 is refunded" in closed.stderr and "stays blocked" in closed.stderr

    asked = request_payout(store, 3, "Anna Guest", "DE89370400440532013000")
    waiting = _unblock(store_target, 3)
    assert waiting.returncode == 1 and "refund request open" in waiting.stderr
    with pytest.raises(LedgerError, match="refund request open"):
        unblock_card(store, 3)
    assert {card for card, _ in hotlist(store)} == {2, 3}
    decide(store, asked["request_id"], approve=False, by="finance")
    assert unblock_card(store, 3)  # rejected: the band is the guest's again
    assert {card for card, _ in hotlist(store)} == {2}
    assert summary(store)["books_balance"]
