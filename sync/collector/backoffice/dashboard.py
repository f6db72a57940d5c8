"""The dashboard's figures: the summary's books, top-ups by method, sales per hour, top products, vendors,
terminals and anomalies. Computed once per change of the data (`version`) and shared by every viewer."""

from __future__ import annotations

import threading
from typing import Any

from sync.collector.report_filters import Filters
from sync.collector.reports import by_hour, by_vendor, sync_status, top_products
from sync.collector.storage import Store
from sync.collector.summary import money_totals, summary

ANOMALY_KINDS = ("clone", "rollback", "balance_jump", "forged", "refused_credit", "pending", "pending_landed", "gap",
                 "outside_event")


def version(store: Store) -> tuple:
    """Changes whenever a batch arrives, a card is blocked or refunded, or an anomaly is found."""
    row = store.query("SELECT (SELECT COUNT(*) FROM batches) AS b, (SELECT MAX(received_at) FROM batches) AS r, "
                      "(SELECT COUNT(*) FROM hotlist) AS h, (SELECT MAX(changed_at) FROM cards) AS c, "
                      "(SELECT COUNT(*) FROM anomalies) AS a, (SELECT COUNT(*) FROM face_ledger) AS f")[0]
    return tuple(row.values())


def figures_of_books(books: dict[str, Any]) -> dict[str, Any]:
    return {k: books[k] for k in ("deposited", "spent", "refunded", "forfeited_complimentary", "outstanding",
                                  "corrections", "books_balance", "entries", "pending")}


def figures(store: Store) -> dict[str, Any]:
    books = summary(store)
    terminals = sync_status(store)
    return {
        "books": figures_of_books(books),
        "deposited_by_method": books["deposited_by_method"],
        "anomalies": books["anomalies"],
        "cards_by_status": books["cards_by_status"],
        "hours": by_hour(store),
        "vendors": by_vendor(store),
        "top_products": top_products(store, 10),
        "terminals": terminals,
        "recent_anomalies": store.query(
            "SELECT card_id, kind, terminal_id, seq, detail FROM anomalies WHERE kind NOT IN ('gap') "
            "ORDER BY found_at DESC, card_id LIMIT 20"),
    }


def filtered_books(store: Store, where: Filters) -> dict[str, Any]:
    """The movements booked at the chosen terminals, day and hour (from the running totals). What is left on the
    cards, forfeits and the books' balance belong to the whole event: they are not shown for a slice (None)."""
    cond, params = where.where()
    entries, totals, by_method, corrections = money_totals(store, cond, params)
    return {"deposited": sum(by_method.values()), "spent": totals.get("sale", 0) - totals.get("void", 0),
            "refunded": totals.get("close", 0), "forfeited_complimentary": None, "outstanding": None,
            "corrections": corrections, "books_balance": None, "entries": entries, "pending": None,
            "deposited_by_method": dict(sorted(by_method.items()))}


def filtered_figures(store: Store, where: Filters) -> dict[str, Any]:
    """The dashboard narrowed like the reports: a venue, vendor, terminal, day and hour."""
    books = filtered_books(store, where)
    terminals = [t for t in sync_status(store) if (not where.vendor or t["vendor"] == where.vendor)
                 and (not where.venue or t["venue"] == where.venue)
                 and (where.terminal is None or t["terminal_id"] == where.terminal)]
    shown = {t["terminal_id"] for t in terminals}
    anomalies = store.query("SELECT card_id, kind, terminal_id, seq, detail FROM anomalies WHERE kind NOT IN ('gap') "
                            "ORDER BY found_at DESC, card_id LIMIT 200")
    recent = [a for a in anomalies if a["terminal_id"] in shown][:20]
    counts: dict[str, int] = {}
    for a in recent:
        counts[a["kind"]] = counts.get(a["kind"], 0) + 1
    return {"books": books, "deposited_by_method": books.pop("deposited_by_method"), "anomalies": counts,
            "cards_by_status": {}, "hours": by_hour(store, where), "vendors": by_vendor(store, where),
            "top_products": top_products(store, 10, where=where), "terminals": terminals,
            "recent_anomalies": recent}


class DashboardCache:
    """The last figures and the version they were computed at (one computation at a time)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._figures: dict[str, Any] = {}
        self._books_version: tuple | None = None
        self._books: dict[str, Any] = {}

    def books(self) -> tuple[tuple, dict[str, Any]]:
        """Only the summary's figures (for the live feed): fresh at every change, without the slower charts."""
        with self._lock:
            now = version(self.store)
            if now == self._version:
                return now, self._figures["books"]
            if now != self._books_version:
                self._books = figures_of_books(summary(self.store))
                self._books_version = now
            return now, self._books

    def get(self) -> tuple[tuple, dict[str, Any]]:
        with self._lock:
            now = version(self.store)
            if now != self._version:
                self._figures = figures(self.store)
                self._version = now
            return now, self._figures
