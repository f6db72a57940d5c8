"""Refunds after the event: what each card may get back, and marking cards refunded (and closed).

A refund never exceeds the card's ledger balance, and complimentary credit is
never paid out: comp credit counts as spent first, so a card's refundable amount
is its balance minus whatever comp credit is left on it.
"""

from __future__ import annotations

from sync.event import now_iso
from sync.ledger import block_card, card_balances
from sync.storage import Store


def refundable(store: Store, card_ids: list[int] | None = None) -> list[dict]:
    balances = card_balances(store, card_ids)
    comp = {r["card_id"]: int(r["total"]) for r in store.query(
        "SELECT card_id, SUM(amount) AS total FROM entries WHERE phase = 'commit' AND op IN ('issue', 'topup') "
        "AND method = 'comp' GROUP BY card_id")}
    spent = {r["card_id"]: int(r["total"] or 0) for r in store.query(
        "SELECT card_id, SUM(CASE WHEN op = 'sale' THEN amount WHEN op = 'void' THEN -amount ELSE 0 END) AS total "
        "FROM entries WHERE phase = 'commit' AND op IN ('sale', 'void') GROUP BY card_id")}
    done = {r["card_id"]: r for r in store.query("SELECT card_id, status, refunded FROM cards")}
    rows = []
    for cid, balance in sorted(balances.items()):
        if cid in done and done[cid]["status"] == "refunded":
            continue
        comp_left = max(0, comp.get(cid, 0) - spent.get(cid, 0))
        amount = max(0, balance - comp_left)
        rows.append({"card_id": cid, "balance": balance, "complimentary_left": min(comp_left, max(balance, 0)),
                     "refundable": amount})
    return [r for r in rows if r["balance"] > 0]


def refund_cards(store: Store, card_ids: list[int] | None, *, by: str) -> list[dict]:
    """Mark cards refunded with their refundable amount and hotlist them as closed."""
    done = []
    for row in refundable(store, card_ids):
        with store.transaction():
            store.execute("INSERT INTO cards (card_id, status, refunded, changed_at, note) "
                          "VALUES (?, 'refunded', ?, ?, ?) "
                          "ON CONFLICT (card_id) DO UPDATE SET status = 'refunded', refunded = excluded.refunded, "
                          "changed_at = excluded.changed_at, note = excluded.note",
                          [row["card_id"], row["refundable"], now_iso(), f"refunded by {by}"])
            block_card(store, row["card_id"], "refunded and closed", source="refund")
        done.append({"card_id": row["card_id"], "refunded": row["refundable"],
                     "complimentary_forfeited": row["complimentary_left"]})
    return done
