"""Corrections of a card's balance made at the collector by finance, each with a mandatory reason.

A correction is a movement of the books, not of the band: a credit (the guest was overcharged, a top-up was
lost) raises what the guest is owed at refund time; a debit lowers it, but never below what the band itself
shows (the band would then hold money the books do not back: an exposure). The summary counts them as
`corrections`, in the equation and in every card's ledger balance, so the books stay balanced.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sync.collector.event import now_iso
from sync.collector.storage import Store

MAX_AMOUNT = 10**9  # minor units
REASON_CHARS = (3, 300)


class CorrectionError(Exception):
    """A refused correction, phrased for the back office."""


def by_card(store: Store, card_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Sum of the corrections per card (all cards, or those given)."""
    wanted = set(card_ids) if card_ids is not None else None
    out: dict[int, int] = {}
    for r in store.query("SELECT card_id, SUM(amount) AS amount FROM card_corrections GROUP BY card_id"):
        if wanted is None or r["card_id"] in wanted:
            out[int(r["card_id"])] = int(r["amount"])
    return out


def total(store: Store) -> int:
    return int(store.scalar("SELECT COALESCE(SUM(amount), 0) FROM card_corrections") or 0)


def of_card(store: Store, card_id: int) -> list[dict]:
    return store.query("SELECT correction_id, amount, reason, by_user, at FROM card_corrections WHERE card_id = ? "
                       "ORDER BY at, correction_id", [card_id])


def correct(store: Store, card_id: int, amount: int, reason: str, *, by: str) -> dict:
    """Book a correction of `amount` (signed minor units) on a card; CorrectionError with the reason if refused."""
    from sync.collector.ledger import card_balances
    from sync.collector.trust import band_balance

    reason = " ".join(reason.split())
    if not REASON_CHARS[0] <= len(reason) <= REASON_CHARS[1]:
        raise CorrectionError("say why (3 to 300 characters): a correction without a reason is refused")
    if amount == 0 or abs(amount) > MAX_AMOUNT:
        raise CorrectionError("the amount must not be zero (or absurdly large)")
    rows = store.query("SELECT terminal_id, seq, op, phase, amount, balance_before, balance_after, time FROM entries "
                       "WHERE card_id = ? ORDER BY card_seq, time, terminal_id, seq", [card_id])
    if not rows:
        raise CorrectionError(f"card {card_id} is not known to the collector")
    if store.scalar("SELECT 1 FROM cards WHERE card_id = ? AND status = 'refunded'", [card_id]):
        raise CorrectionError(f"card {card_id} is refunded and closed")
    if amount < 0:
        ledger = card_balances(store, [card_id]).get(card_id, 0)
        floor = max(band_balance(rows) or 0, 0)
        if ledger + amount < floor:
            raise CorrectionError(f"a debit may not take the books below what the band shows ({floor})")
    row = {"correction_id": "CR" + secrets.token_hex(8), "card_id": card_id, "amount": amount, "reason": reason,
           "by_user": by, "at": now_iso()}
    store.execute("INSERT INTO card_corrections (correction_id, card_id, amount, reason, by_user, at) "
                  "VALUES (?, ?, ?, ?, ?, ?)", list(row.values()))
    return row
