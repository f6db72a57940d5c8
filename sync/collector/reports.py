"""Organizer reports from the collector: the same data as JSON, CSV or HTML with inline SVG charts.

Aggregation happens in SQL on running totals kept at ingest (`entry_totals`, `product_totals`), so the
reports stay fast on millions of entries.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from sync.collector.report_filters import NONE, Filters
from sync.collector.storage import Store
from sync.collector.summary import summary

SALES = "phase = 'commit' AND op IN ('sale', 'void')"
NET = "CASE WHEN op = 'sale' THEN amount ELSE -amount END"


Progress = Callable[[int, int], None]  # (rows done, rows in all) for reports that walk many rows


class ReportError(Exception):
    pass


# sales reports read the running totals kept at ingest (`entry_totals`), not every entry
TOTALS_SALES = "phase = 'commit' AND op IN ('sale', 'void')"
TOTALS_COUNT = "SUM(CASE WHEN op = 'sale' THEN n ELSE 0 END)"


def by_vendor(store: Store, where: Filters = NONE) -> list[dict]:
    cond, params = where.where("x.hour", "x.terminal_id")
    return _ints(store.query(
        f"SELECT COALESCE(t.vendor, '') AS vendor, SUM(x.n) AS entries, {TOTALS_COUNT} AS sales, SUM({NET}) AS net "
        f"FROM entry_totals x LEFT JOIN terminals t ON t.terminal_id = x.terminal_id WHERE {TOTALS_SALES}{cond} "
        f"GROUP BY t.vendor ORDER BY net DESC", params))


def by_terminal(store: Store, where: Filters = NONE) -> list[dict]:
    cond, params = where.where()
    return _ints(store.query(f"SELECT terminal_id, {TOTALS_COUNT} AS sales, SUM({NET}) AS net FROM entry_totals "
                             f"WHERE {TOTALS_SALES}{cond} GROUP BY terminal_id ORDER BY terminal_id", params))


def by_hour(store: Store, where: Filters = NONE) -> list[dict]:
    cond, params = where.where()
    return _ints(store.query(f"SELECT hour, {TOTALS_COUNT} AS sales, SUM({NET}) AS net FROM entry_totals "
                             f"WHERE {TOTALS_SALES}{cond} GROUP BY hour ORDER BY hour", params))


def by_day(store: Store, where: Filters = NONE) -> list[dict]:
    return _by_period(store, "day", 10, where)


def by_month(store: Store, where: Filters = NONE) -> list[dict]:
    """The canteen owner's monthly report: the same columns as the daily one, per calendar month (UTC)."""
    return _by_period(store, "month", 7, where)


def _by_period(store: Store, name: str, chars: int, where: Filters = NONE) -> list[dict]:
    """Sales (count, net of voids), deposits and refunds per period, from the running totals kept at ingest."""
    period = f"substr(hour, 1, {int(chars)})"
    cond, params = where.where()
    return _ints(store.query(
        f"SELECT {period} AS {name}, {TOTALS_COUNT} AS sales, "
        "SUM(CASE WHEN op = 'sale' THEN amount WHEN op = 'void' THEN -amount ELSE 0 END) AS net, "
        "SUM(CASE WHEN op IN ('issue', 'topup') THEN amount ELSE 0 END) AS deposited, "
        "SUM(CASE WHEN op = 'close' THEN amount ELSE 0 END) AS refunded "
        f"FROM entry_totals WHERE phase = 'commit'{cond} GROUP BY {period} ORDER BY {name}", params))


def _ints(rows: list[dict]) -> list[dict]:
    """PostgreSQL returns SUM(BIGINT) as NUMERIC (Decimal): money stays integer minor units in every report."""
    for r in rows:
        for k, v in r.items():
            if v is not None and not isinstance(v, (int, str)):
                r[k] = int(v)
    return rows


def by_product(store: Store, progress: Progress | None = None, limit: int | None = None,
               where: Filters = NONE) -> list[dict]:
    """Quantity and net (sales less voids) per product, from the running totals kept at ingest
    (`product_totals`); `progress` is kept for callers of the old row-walking version (one step)."""
    cond, params = where.where()
    rows = _ints(store.query(f"SELECT product, SUM(quantity) AS quantity, SUM(net) AS net FROM product_totals "
                             f"WHERE 1 = 1{cond} GROUP BY product ORDER BY SUM(net) DESC, product"
                             + (f" LIMIT {int(limit)}" if limit is not None else ""), params))
    if progress:
        progress(1, 1)
    return rows


def top_products(store: Store, n: int = 10, progress: Progress | None = None, where: Filters = NONE) -> list[dict]:
    return by_product(store, progress, limit=n, where=where)


def cashiers(store: Store, where: Filters = NONE) -> list[dict]:
    """Money taken in per terminal, operator and method, from the running totals kept at ingest."""
    cond, params = where.where()
    return _ints(store.query("SELECT terminal_id, operator, method, SUM(n) AS count, SUM(amount) AS total "
                             f"FROM operator_totals WHERE 1 = 1{cond} GROUP BY terminal_id, operator, method "
                             "ORDER BY terminal_id, operator, method", params))


def settlement(store: Store, commission_percent: float = 0.0, where: Filters = NONE) -> list[dict]:
    if not 0 <= commission_percent <= 100:
        raise ReportError("commission must be between 0 and 100 percent")
    basis_points = round(commission_percent * 100)
    rows = []
    for r in by_vendor(store, where):
        gross = int(r["net"] or 0)
        commission = gross * basis_points // 10_000
        rows.append({"vendor": r["vendor"], "gross": gross, "commission": commission, "net": gross - commission})
    return rows


def card_history(store: Store, card_id: int | None) -> list[dict]:
    if card_id is None:
        raise ReportError("the card report needs --card ID")
    rows = store.query("SELECT terminal_id, seq, time, op, phase, card_seq, amount, balance_before, balance_after, "
                       "method, operator, data FROM entries WHERE card_id = ? "
                       "ORDER BY card_seq, time, terminal_id, seq", [card_id])
    holder = None  # the name (and phone) given at issue, on every row so a one-line view shows whose card it is
    for r in rows:
        try:
            data = json.loads(r.pop("data") or "{}")
        except ValueError:
            data = {}
        if r["op"] == "issue" and r["phase"] == "commit" and isinstance(data, dict) and data.get("holder"):
            holder = str(data["holder"])
    return [{**r, "holder": holder} for r in rows]


def movements(store: Store) -> list[dict]:
    return store.query("SELECT card_id, op, SUM(amount) AS total, COUNT(*) AS count FROM entries "
                       "WHERE phase = 'commit' "
                       "AND card_id IS NOT NULL GROUP BY card_id, op ORDER BY card_id, op")


def anomalies(store: Store) -> list[dict]:
    return store.query("SELECT a.card_id, a.kind, a.terminal_id, a.seq, a.detail, "
                       "CASE WHEN h.card_id IS NULL THEN 0 ELSE 1 END AS hotlisted "
                       "FROM anomalies a LEFT JOIN hotlist h ON h.card_id = a.card_id ORDER BY a.kind, a.card_id")


def contiguous_seqs(store: Store) -> dict[int, int]:
    """`sync.collector.ingest.contiguous_seq` of every terminal at once (one query, not one per terminal)."""
    upto: dict[int, int] = {}
    broken: set[int] = set()
    for r in store.query("SELECT terminal_id, first_seq, last_seq FROM batches ORDER BY terminal_id, first_seq"):
        tid = r["terminal_id"]
        if tid in broken:
            continue
        if r["first_seq"] > upto.get(tid, 0) + 1:
            broken.add(tid)
            continue
        upto[tid] = max(upto.get(tid, 0), r["last_seq"])
    return upto


def sync_status(store: Store) -> list[dict]:
    rows = store.query("SELECT terminal_id, name, vendor, role, status, last_sync, reported_head_seq, "
                       "reported_unsynced, clock_skew_ms, clock_synced, software, self_test, venue FROM terminals "
                       "ORDER BY terminal_id")
    stored = contiguous_seqs(store)
    for r in rows:
        r["stored_up_to"] = stored.get(r["terminal_id"], 0)
        head = r["reported_head_seq"] or 0
        r["unsynced_entries"] = max(0, head - r["stored_up_to"])
    return rows


def face_accounts(store: Store) -> list[dict]:
    """Every face account with its ledger balance and what it may still spend."""
    from sync.collector.face import balances, open_holds

    book, holds = balances(store), open_holds(store)
    rows = store.query("SELECT account_id, holder, wristband_uid, status, created_at, closed_at FROM face_accounts "
                       "ORDER BY account_id")
    for r in rows:
        r["balance"] = book.get(r["account_id"], 0)
        r["available"] = r["balance"] - holds.get(r["account_id"], 0)
    return rows


def erasures(store: Store) -> list[dict]:
    from sync.collector.face import pending_erasures

    return pending_erasures(store)


REPORTS = {
    "summary": lambda s, **k: summary(s),
    "vendors": lambda s, **k: by_vendor(s, k.get("filters") or NONE),
    "terminals": lambda s, **k: by_terminal(s, k.get("filters") or NONE),
    "products": lambda s, **k: by_product(s, k.get("progress"), where=k.get("filters") or NONE),
    "top-products": lambda s, **k: top_products(s, progress=k.get("progress"), where=k.get("filters") or NONE),
    "hours": lambda s, **k: by_hour(s, k.get("filters") or NONE),
    "days": lambda s, **k: by_day(s, k.get("filters") or NONE),
    "daily": lambda s, **k: by_day(s, k.get("filters") or NONE),
    "months": lambda s, **k: by_month(s, k.get("filters") or NONE),
    "monthly": lambda s, **k: by_month(s, k.get("filters") or NONE),
    "cashiers": lambda s, **k: cashiers(s, k.get("filters") or NONE),
    "settlement": lambda s, **k: settlement(s, k.get("commission") or 0.0, k.get("filters") or NONE),
    "card": lambda s, **k: card_history(s, k.get("card")),
    "movements": lambda s, **k: movements(s),
    "anomalies": lambda s, **k: anomalies(s),
    "sync": lambda s, **k: sync_status(s),
    "face-accounts": lambda s, **k: face_accounts(s),
    "erasures": lambda s, **k: erasures(s),
}


def run_named(store: Store, name: str, **kwargs: Any) -> Any:
    if name not in REPORTS:
        raise ReportError(f"unknown report {name!r}")
    return REPORTS[name](store, **kwargs)


def _flatten(data: Any) -> list[dict]:
    if isinstance(data, list):
        return data
    rows = []
    for key, value in data.items():
        if isinstance(value, dict):
            rows.extend({"item": f"{key}.{k}", "value": v} for k, v in value.items())
        else:
            rows.append({"item": key, "value": value})
    return rows


def render_csv(data: Any) -> str:
    rows = _flatten(data)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()
