"""The event summary: the books of the whole event as the collector sees them.

deposited − spent − refunded − forfeited + corrections = outstanding, where outstanding is
also the sum of the per-card ledger balances and the face-account balances (`sync.collector.face`);
a difference is reported. Deposited
includes complimentary credit; `forfeited` is the comp credit left on cards when
they were closed (at a terminal's checkout or refunded at the collector), which is
never paid out. A card replacement moves a balance between cards and changes no total.
`books_balance` also needs no open anomaly of money (`sync.collector.trust.MONEY_KINDS`): sums that agree while a forged
band holds money the ledger does not explain are not balanced books. `exposure` is that money on bands and
`negative_balances` the ledger balances below zero (a band spent twice).
"""

from __future__ import annotations

import json

from sync.collector.corrections import total as collector_corrections
from sync.collector.event import get_meta
from sync.collector.face_books import face_summary
from sync.collector.ledger import card_balances, replace_moves
from sync.collector.storage import Store
from sync.collector.trust import MONEY_KINDS, exposure

# entries; beyond this the per-card cross-check (one pass over every commit) is asked for explicitly: at 1 M
# entries it took 2.5 s and made the dashboard miss its 1 s target
CHECK_CARDS_UP_TO = 250_000


def money_totals(store: Store, cond: str = "",
                 params: list | tuple = ()) -> tuple[int, dict[str, int], dict[str, int], int]:
    """From the running totals (`entry_totals`, optionally narrowed by `cond`, an `AND ...` clause): entries
    counted, committed amount per op, deposits per method, and the net of terminal corrections."""
    by_method: dict[str, int] = {}
    totals: dict[str, int] = {}
    corrections = entries = 0
    for r in store.query("SELECT op, phase, method, SUM(n) AS n, SUM(amount) AS amount, SUM(delta) AS delta "
                         f"FROM entry_totals WHERE 1 = 1{cond} GROUP BY op, phase, method", list(params)):
        entries += int(r["n"])
        if r["phase"] != "commit":
            continue
        totals[r["op"]] = totals.get(r["op"], 0) + int(r["amount"])
        if r["op"] in ("issue", "topup"):
            by_method[r["method"] or "unknown"] = by_method.get(r["method"] or "unknown", 0) + int(r["amount"])
        elif r["op"] == "correct":
            corrections += int(r["delta"] or 0)
    return entries, totals, by_method, corrections


def summary(store: Store, *, check_cards: bool | None = None) -> dict:
    """The event's books from the running totals kept at ingest (`entry_totals`), so it stays fast at millions
    of entries. `check_cards` also sums every card's ledger balance (one pass over all commits) and requires
    it to equal `outstanding`; by default only up to `CHECK_CARDS_UP_TO` entries."""
    entries, totals, by_method, corrections = money_totals(store)
    by_method = dict(sorted(by_method.items()))
    corrections += collector_corrections(store)  # made at the collector by finance, each with its reason
    at_collector = store.query("SELECT COALESCE(SUM(refunded), 0) AS refunded, COALESCE(SUM(forfeited), 0) AS "
                               "forfeited FROM cards")[0]
    checkout_refund, checkout_forfeit = _checkouts(store)
    deposited = sum(by_method.values())
    spent = totals.get("sale", 0) - totals.get("void", 0)
    refunded = checkout_refund + int(at_collector["refunded"])
    forfeited = checkout_forfeit + int(at_collector["forfeited"])
    # what the committed movements leave on the cards (replacements move money between cards: no change)
    # face accounts (DESIGN.md): their journal entries are in the totals above; checkouts paid out by the collector
    # itself are ledger refunds with no journal entry
    face = face_summary(store)
    face_paid_here = face["refunded_at_collector"]
    refunded += face_paid_here
    outstanding = (deposited - spent - totals.get("close", 0) + corrections - int(at_collector["refunded"])
                   - int(at_collector["forfeited"]) - face_paid_here)
    if check_cards is None:
        check_cards = entries <= CHECK_CARDS_UP_TO
    per_card = sum(card_balances(store).values()) if check_cards else None
    anomalies = {r["kind"]: int(r["n"]) for r in store.query(
        "SELECT kind, COUNT(*) AS n FROM anomalies GROUP BY kind ORDER BY kind")}
    money_anomalies = sum(n for kind, n in anomalies.items() if kind in MONEY_KINDS)
    exposed = exposure(store)
    return {
        "event_id": get_meta(store, "event_id"),
        "currency": get_meta(store, "currency"),
        "deposited": deposited,
        "deposited_by_method": by_method,
        "spent": spent,
        "sales": totals.get("sale", 0),
        "voids": totals.get("void", 0),
        "refunded": refunded,
        "refunded_at_checkout": checkout_refund,
        "refunded_at_collector": int(at_collector["refunded"]),
        "forfeited_complimentary": forfeited,
        "corrections": corrections,
        "outstanding": outstanding,
        "outstanding_per_card": per_card,
        "outstanding_face_accounts": face["outstanding"],
        # the sums agree AND no money is unexplained: a forged band, a clone, a credit booked by a sale terminal...
        "books_balance": (deposited - spent - refunded - forfeited + corrections == outstanding
                          and (per_card is None or per_card + face["outstanding"] == outstanding)
                          and money_anomalies == 0),
        "money_anomalies": money_anomalies,
        "exposure": exposed["exposure"],  # money on bands beyond what the ledger explains
        "negative_balances": exposed["negative_balances"],  # sum of card ledger balances below zero
        "face_accounts": face,
        "cards_by_status": cards_by_status(store),
        "pending": anomalies.get("pending", 0) + anomalies.get("pending_landed", 0),
        "anomalies": anomalies,
        "entries": entries,
        "terminals": int(store.scalar("SELECT COUNT(*) FROM terminals") or 0),
    }


def _checkouts(store: Store) -> tuple[int, int]:
    """(paid out, comp forfeited) by terminal checkouts (`close`): the wallet records the split in `data`."""
    paid = forfeited = 0
    for r in store.query("SELECT amount, data FROM entries WHERE phase = 'commit' AND op = 'close'"):
        try:
            refund = json.loads(r["data"] or "{}").get("refund")
        except (ValueError, AttributeError):
            refund = None
        refund = refund if isinstance(refund, int) and 0 <= refund <= r["amount"] else r["amount"]
        paid += refund
        forfeited += int(r["amount"]) - refund
    return paid, forfeited


def cards_by_status(store: Store) -> dict[str, int]:
    """Cards known by their issue or replacement entry, by status (a card whose issuing terminal has not
    synced yet is not counted until it does). Only the few cards that are not active are listed; the known
    cards are counted in SQL (an index-only scan), so this stays fast at millions of entries."""
    known = "FROM entries WHERE phase = 'commit' AND op IN ('issue', 'replace') AND card_id IS NOT NULL"
    total = int(store.scalar(f"SELECT COUNT(DISTINCT card_id) {known}") or 0)
    closed = {r["card_id"] for r in store.query(
        "SELECT DISTINCT card_id FROM entries WHERE phase = 'commit' AND op = 'close' AND card_id IS NOT NULL")}
    refunded = {r["card_id"] for r in store.query("SELECT card_id FROM cards WHERE status = 'refunded'")}
    replaced = {old for old, _n, _a in replace_moves(store)}
    blocked = {r["card_id"] for r in store.query("SELECT card_id FROM hotlist")}
    special = sorted(closed | refunded | replaced | blocked)
    cards = {r["card_id"] for r in store.query_in(f"SELECT DISTINCT card_id {known} AND card_id IN ({{marks}})",
                                                  special)}
    counts = {"active": total - len(cards), "blocked": 0, "replaced": 0, "closed": 0, "refunded": 0}
    for cid in cards:
        if cid in refunded:
            counts["refunded"] += 1
        elif cid in replaced:
            counts["replaced"] += 1
        elif cid in closed:
            counts["closed"] += 1
        else:
            counts["blocked"] += 1
    return counts
