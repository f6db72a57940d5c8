"""The face-account line of the event summary and aging authorizations: read-only views over `face_ledger`
(kept out of `sync.collector.face`, which writes it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync.collector.face import balances, open_holds
from sync.collector.storage import Store


def face_summary(store: Store) -> dict[str, Any]:
    """The face-account line of the event summary."""
    sums = {r["kind"]: (int(r["n"]), int(r["a"] or 0)) for r in store.query(
        "SELECT kind, COUNT(*) AS n, SUM(amount) AS a FROM face_ledger GROUP BY kind")}
    refunds_here = int(store.scalar("SELECT COALESCE(SUM(amount), 0) FROM face_ledger WHERE kind = 'refund' "
                                    "AND terminal_id IS NULL") or 0)
    book = balances(store)
    statuses = {r["status"]: int(r["n"]) for r in store.query(
        "SELECT status, COUNT(*) AS n FROM face_accounts GROUP BY status")}
    return {
        "accounts": sum(statuses.values()),
        "accounts_by_status": statuses,
        "deposited": sums.get("topup", (0, 0))[1],
        "spent": -sums.get("sale", (0, 0))[1] - sums.get("void", (0, 0))[1],
        "refunded": -sums.get("refund", (0, 0))[1],
        "refunded_at_collector": -refunds_here,
        "outstanding": sum(book.values()),
        "overdrawn_accounts": sum(1 for b in book.values() if b < 0),
        "open_holds": sum(open_holds(store).values()),
        "refused_credits": sums.get("refused_credit", (0, 0))[0],
        # closed at a cashier that paid out only what it was sure of (offline): the rest is the organizer's to pay
        "owed_after_checkout": sum(b for a, b in book.items() if b > 0 and a in _closed(store)),
        "templates": int(store.scalar("SELECT COUNT(*) FROM gallery_changes WHERE action = 'put'") or 0),
        "erasures": int(store.scalar("SELECT COUNT(*) FROM gallery_changes WHERE action = 'erase'") or 0),
    }


def _closed(store: Store) -> set[str]:
    return {r["account_id"] for r in store.query("SELECT account_id FROM face_accounts WHERE status = 'closed'")}


def hold_age(store: Store, older_than: timedelta) -> list[dict]:
    """Authorizations still open after `older_than` (a terminal that authorized but has not synced its sale)."""
    cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return store.query("SELECT account_id, auth_id, terminal_id, -amount AS amount, time FROM face_ledger "
                       "WHERE kind = 'hold' AND settled = 0 AND time < ? ORDER BY time", [cutoff])
