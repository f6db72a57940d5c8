"""Cards and guests as the support desk sees them: search, one card's books and status."""

from __future__ import annotations

import re
from typing import Any

from sync.collector.corrections import of_card
from sync.collector.ledger import card_balances, comp_left, replace_moves
from sync.collector.reports import card_history
from sync.collector.storage import Store
from sync.format.face_keys import phone_hash

MAX_RESULTS = 50


def card_status(store: Store, card_id: int) -> dict[str, Any]:
    """What the books say about a card: active, blocked (with the reason), replaced, closed or refunded."""
    hot = store.query("SELECT reason, source, added_at FROM hotlist WHERE card_id = ?", [card_id])
    row = store.query("SELECT status, refunded, forfeited, note FROM cards WHERE card_id = ?", [card_id])
    moves = replace_moves(store)
    replaced_by = next((new for old, new, _a in moves if old == card_id), None)
    replaces = next((old for old, new, _a in moves if new == card_id), None)
    closed = bool(store.scalar("SELECT 1 FROM entries WHERE card_id = ? AND phase = 'commit' AND op = 'close'",
                               [card_id]))
    if row and row[0]["status"] == "refunded":
        status = "refunded"
    elif replaced_by is not None:
        status = "replaced"
    elif closed:
        status = "closed"
    elif hot:
        status = "blocked"
    else:
        status = "active"
    return {"status": status, "blocked": hot[0] if hot else None, "replaced_by": replaced_by, "replaces": replaces,
            "refunded": int(row[0]["refunded"]) if row else 0, "forfeited": int(row[0]["forfeited"]) if row else 0}


def known_card(store: Store, card_id: int) -> bool:
    return bool(store.scalar("SELECT 1 FROM entries WHERE card_id = ? LIMIT 1", [card_id]))


def refundable_card(store: Store, card_id: int) -> dict[str, Any] | None:
    """`sync.collector.refunds.refundable` for one card, replaying only its own comp credit (and its replaced cards'),
    not every comp card of the event."""
    if store.scalar("SELECT 1 FROM cards WHERE card_id = ? AND status = 'refunded'", [card_id]) or card_id in {
            old for old, _n, _a in replace_moves(store)}:
        return None
    balance = card_balances(store, [card_id]).get(card_id, 0)
    if balance <= 0:
        return None
    comp = min(comp_left(store, [card_id]).get(card_id, 0), balance)
    return {"card_id": card_id, "balance": balance, "complimentary_left": comp, "refundable": balance - comp}


def card_page(store: Store, card_id: int) -> dict[str, Any] | None:
    if not known_card(store, card_id):
        return None
    refund = refundable_card(store, card_id)
    return {"card_id": card_id, "balance": card_balances(store, [card_id]).get(card_id, 0),
            "history": card_history(store, card_id), "refundable": refund,
            "anomalies": store.query("SELECT kind, terminal_id, seq, detail FROM anomalies WHERE card_id = ? "
                                     "ORDER BY kind", [card_id]),
            "corrections": of_card(store, card_id),
            "payouts": store.query("SELECT request_id, holder, amount, status, requested_at FROM payout_requests "
                                   "WHERE card_id = ? ORDER BY requested_at", [card_id]),
            **card_status(store, card_id)}


def search(store: Store, query: str, *, master_key: bytes | None = None, event_id: str = "") -> list[dict]:
    """Cards by printed id, guests by name (refund requests, face accounts) or by phone digits (face accounts)."""
    q = query.strip()
    found: list[dict] = []
    digits = re.sub(r"[\s-]", "", q)
    if digits.isdigit() and len(digits) <= 19 and known_card(store, int(digits)):
        found.append({"kind": "card", "card_id": int(digits), "label": f"card {int(digits)}"})
    if len(q) >= 2:
        like = f"%{q.lower()}%"
        for r in store.query("SELECT DISTINCT card_id, holder FROM payout_requests WHERE LOWER(holder) LIKE ? "
                             "ORDER BY card_id LIMIT ?", [like, MAX_RESULTS]):
            found.append({"kind": "card", "card_id": int(r["card_id"]), "label": r["holder"]})
        for r in store.query("SELECT account_id, holder FROM face_accounts WHERE LOWER(holder) LIKE ? "
                             "ORDER BY account_id LIMIT ?", [like, MAX_RESULTS]):
            found.append({"kind": "face", "account_id": r["account_id"], "label": r["holder"]})
    if master_key is not None and digits.isdigit() and 4 <= len(digits) <= 15:
        for r in store.query("SELECT account_id, holder, phone_hash FROM face_accounts WHERE phone_hash <> ''"):
            if phone_hash(master_key, event_id, r["account_id"], digits) == r["phone_hash"]:
                found.append({"kind": "face", "account_id": r["account_id"], "label": r["holder"]})
    seen: set[tuple] = set()
    unique = []
    for f in found:
        key = (f["kind"], f.get("card_id"), f.get("account_id"))
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique[:MAX_RESULTS]
