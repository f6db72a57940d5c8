"""Refunds after the event: what each card may get back, and marking cards refunded (and closed).

A refund never exceeds the card's ledger balance, and complimentary credit is
never paid out: comp credit is spent first (the wallet's rule), and whatever comp
credit is left on a card when it is refunded is forfeited. A refunded card is
closed at the collector: its ledger balance drops to zero, the paid-out part
counts as refunded and the comp part as forfeited, and it goes on the hotlist.
"""

from __future__ import annotations

from sync.collector.event import now_iso
from sync.collector.ledger import block_card, card_balances, comp_left, replace_moves
from sync.collector.storage import Store


def refundable(store: Store, card_ids: list[int] | None = None) -> list[dict]:
    balances = card_balances(store, card_ids)
    comp = comp_left(store)
    closed = {r["card_id"] for r in store.query("SELECT card_id FROM cards WHERE status = 'refunded'")}
    replaced = {old for old, _n, _a in replace_moves(store)}  # their balance lives on the new card
    rows = []
    for cid, balance in sorted(balances.items()):
        if cid in closed or cid in replaced or balance <= 0:
            continue
        comp_part = min(comp.get(cid, 0), balance)
        rows.append({"card_id": cid, "balance": balance, "complimentary_left": comp_part,
                     "refundable": balance - comp_part})
    return rows


def refund_cards(store: Store, card_ids: list[int] | None, *, by: str) -> list[dict]:
    """Mark cards refunded with their refundable amount, forfeit their comp credit, and hotlist them as closed."""
    done = []
    for row in refundable(store, card_ids):
        with store.transaction():
            store.execute("INSERT INTO cards (card_id, status, refunded, forfeited, changed_at, note) "
                          "VALUES (?, 'refunded', ?, ?, ?, ?) "
                          "ON CONFLICT (card_id) DO UPDATE SET status = 'refunded', refunded = excluded.refunded, "
                          "forfeited = excluded.forfeited, changed_at = excluded.changed_at, note = excluded.note",
                          [row["card_id"], row["refundable"], row["complimentary_left"], now_iso(),
                           f"refunded by {by}"])
            block_card(store, row["card_id"], "refunded and closed", source="refund")
        done.append({"card_id": row["card_id"], "refunded": row["refundable"],
                     "complimentary_forfeited": row["complimentary_left"]})
    return done
