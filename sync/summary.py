"""The event summary: the books of the whole event as the collector sees them.

deposited − spent − refunded + corrections = outstanding, where outstanding is
also the sum of the per-card ledger balances; a difference is reported.
"""

from __future__ import annotations

from sync.event import get_meta
from sync.ledger import card_balances, replace_moves
from sync.storage import Store


def summary(store: Store) -> dict:
    by_method = {r["method"] or "unknown": int(r["total"]) for r in store.query(
        "SELECT method, SUM(amount) AS total FROM entries WHERE phase = 'commit' AND op IN ('issue', 'topup') "
        "GROUP BY method ORDER BY method")}
    totals = {r["op"]: int(r["total"] or 0) for r in store.query(
        "SELECT op, SUM(amount) AS total FROM entries WHERE phase = 'commit' GROUP BY op")}
    corrections = int(store.scalar(
        "SELECT COALESCE(SUM(COALESCE(balance_after, 0) - COALESCE(balance_before, 0)), 0) FROM entries "
        "WHERE phase = 'commit' AND op = 'correct'") or 0)
    collector_refunds = int(store.scalar("SELECT COALESCE(SUM(refunded), 0) FROM cards") or 0)
    deposited = sum(by_method.values())
    spent = totals.get("sale", 0) - totals.get("void", 0)
    refunded = totals.get("close", 0) + collector_refunds
    per_card = card_balances(store)
    outstanding = sum(per_card.values())
    anomalies = {r["kind"]: int(r["n"]) for r in store.query(
        "SELECT kind, COUNT(*) AS n FROM anomalies GROUP BY kind ORDER BY kind")}
    return {
        "event_id": get_meta(store, "event_id"),
        "currency": get_meta(store, "currency"),
        "deposited": deposited,
        "deposited_by_method": by_method,
        "spent": spent,
        "sales": totals.get("sale", 0),
        "voids": totals.get("void", 0),
        "refunded": refunded,
        "corrections": corrections,
        "outstanding": outstanding,
        "books_balance": deposited - spent - refunded + corrections == outstanding,
        "cards_by_status": cards_by_status(store, per_card),
        "pending": anomalies.get("pending", 0) + anomalies.get("pending_landed", 0),
        "anomalies": anomalies,
        "entries": int(store.scalar("SELECT COUNT(*) FROM entries") or 0),
        "terminals": int(store.scalar("SELECT COUNT(*) FROM terminals") or 0),
    }


def cards_by_status(store: Store, per_card: dict[int, int]) -> dict[str, int]:
    closed = {r["card_id"] for r in store.query(
        "SELECT DISTINCT card_id FROM entries WHERE phase = 'commit' AND op = 'close' AND card_id IS NOT NULL")}
    refunded = {r["card_id"] for r in store.query("SELECT card_id FROM cards WHERE status = 'refunded'")}
    replaced = {old for old, _n, _a in replace_moves(store)}
    blocked = {r["card_id"] for r in store.query("SELECT card_id FROM hotlist")}
    counts = {"active": 0, "blocked": 0, "replaced": 0, "closed": 0, "refunded": 0}
    for cid in per_card:
        if cid in refunded:
            counts["refunded"] += 1
        elif cid in replaced:
            counts["replaced"] += 1
        elif cid in closed:
            counts["closed"] += 1
        elif cid in blocked:
            counts["blocked"] += 1
        else:
            counts["active"] += 1
    return counts
