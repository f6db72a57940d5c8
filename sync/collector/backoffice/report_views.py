"""Every collector report as rows for a page, CSV and PDF: which columns are money, which one to chart.

Adds what the organizer's office needs on top of `sync.collector.reports`: months, and the cash reconciliation per
cashier (cash taken in at issue and top-up, cash paid out at checkout, the drawer that should be left).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sync.collector.backoffice.dashboard import filtered_books
from sync.collector.backoffice.filter_bar import ANOMALIES, DAYS_OF_ANOMALIES, SALES, TERMINALS
from sync.collector.report_filters import NONE, Filters
from sync.collector.reports import ReportError, run_named, sync_status
from sync.collector.storage import Store

MONEY = {"net", "total", "gross", "commission", "amount", "balance", "available", "refunded", "deposited", "cash_in",
         "cash_out", "expected_drawer", "refundable", "complimentary_left"}
SUMMARY_MONEY = {"deposited", "spent", "sales", "voids", "refunded", "refunded_at_checkout", "refunded_at_collector",
                 "forfeited_complimentary", "corrections", "outstanding", "outstanding_per_card",
                 "outstanding_face_accounts"}


@dataclass(frozen=True)
class View:
    name: str
    title: str
    label: str = ""   # column charted as labels
    value: str = ""   # column charted as bars


VIEWS = [View("summary", "Summary"), View("days", "Daily", "day", "net"), View("months", "Monthly", "month", "net"),
         View("hours", "Sales per hour", "hour", "net"), View("vendors", "Vendors", "vendor", "net"),
         View("settlement", "Vendor settlement", "vendor", "net"), View("products", "Products", "product", "net"),
         View("terminals", "Terminals", "terminal_id", "net"), View("cashiers", "Top-ups per cashier", "operator",
                                                                    "total"),
         View("cash", "Cash reconciliation", "operator", "expected_drawer"), View("anomalies", "Anomalies"),
         View("sync", "Terminal sync"), View("face-accounts", "Face accounts", "account_id", "balance"),
         View("erasures", "Face erasures pending")]
BY_NAME = {v.name: v for v in VIEWS}
FIELDS: dict[str, tuple[str, ...]] = {**{v.name: SALES for v in VIEWS}, "anomalies": ANOMALIES, "sync": TERMINALS,
                                      "face-accounts": (), "erasures": ()}
"""What each report narrows by (the filter bar's fields); face accounts belong to no terminal."""
DAYS_SQL = {"anomalies": DAYS_OF_ANOMALIES}


def anomalies_in(store: Store, where: Filters) -> list[dict]:
    """The anomalies found at the chosen terminals (venue, vendor, terminal) on the chosen day."""
    cond, params = where.where("a.found_at", "a.terminal_id")
    return store.query("SELECT a.card_id, a.kind, a.terminal_id, a.seq, a.detail, a.found_at, "
                       "CASE WHEN h.card_id IS NULL THEN 0 ELSE 1 END AS hotlisted "
                       f"FROM anomalies a LEFT JOIN hotlist h ON h.card_id = a.card_id WHERE 1 = 1{cond} "
                       "ORDER BY a.kind, a.card_id", params)


def sync_in(store: Store, where: Filters) -> list[dict]:
    return [t for t in sync_status(store) if (not where.vendor or t["vendor"] == where.vendor)
            and (not where.venue or (t["venue"] or "") == where.venue)
            and (where.terminal is None or t["terminal_id"] == where.terminal)]


def summary_of_slice(store: Store, where: Filters) -> list[dict]:
    """The summary's movements booked in the slice; what is left on the cards belongs to the whole event."""
    books = filtered_books(store, where)
    rows = [{"item": f"deposited_by_method: {k}", "value": v, "money": True}
            for k, v in books.pop("deposited_by_method").items()]
    return [{"item": k, "value": v, "money": k != "entries"} for k, v in books.items() if v is not None] + rows


def months(store: Store, where: Filters = NONE) -> list[dict]:
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"sales": 0, "net": 0, "deposited": 0, "refunded": 0})
    for d in run_named(store, "days", filters=where):
        m = per[d["day"][:7]]
        for k in m:
            m[k] += int(d[k] or 0)
    return [{"month": k, **v} for k, v in sorted(per.items())]


def cash(store: Store, where: Filters = NONE) -> list[dict]:
    """Per terminal and operator: cash in (issue, top-up in cash), cash out (checkout payouts), expected drawer."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}

    def row(tid: int, operator: str | None) -> dict[str, Any]:
        key = (tid, operator or "")
        return rows.setdefault(key, {"terminal_id": tid, "operator": operator or "", "cash_in": 0, "cash_out": 0})

    cond, params = where.where()
    for r in store.query("SELECT terminal_id, operator, SUM(amount) AS total FROM operator_totals "
                         f"WHERE method = 'cash'{cond} GROUP BY terminal_id, operator", params):
        row(r["terminal_id"], r["operator"])["cash_in"] += int(r["total"] or 0)
    cond, params = where.where("substr(time, 1, 13)")
    for r in store.query("SELECT terminal_id, operator, amount, data FROM entries WHERE phase = 'commit' "
                         f"AND op = 'close'{cond}", params):
        try:
            paid = json.loads(r["data"] or "{}").get("refund", r["amount"])
        except (ValueError, AttributeError):
            paid = r["amount"]
        paid = paid if isinstance(paid, int) and 0 <= paid <= r["amount"] else r["amount"]
        row(r["terminal_id"], r["operator"])["cash_out"] += int(paid)
    out = sorted(rows.values(), key=lambda r: (r["terminal_id"], r["operator"]))
    for r in out:
        r["expected_drawer"] = r["cash_in"] - r["cash_out"]
    return out


def report_rows(store: Store, name: str, *, commission: float = 0.0, filters: Filters = NONE) -> list[dict]:
    if name not in BY_NAME:
        raise ReportError(f"unknown report {name!r}")
    if name == "months":
        return months(store, filters)
    if name == "cash":
        return cash(store, filters)
    if filters and name == "summary":
        return summary_of_slice(store, filters)
    if name == "anomalies":
        return anomalies_in(store, filters)
    if name == "sync":
        return sync_in(store, filters)
    data = run_named(store, name, commission=commission, filters=filters)
    if name == "summary":
        rows = []
        for key, value in data.items():
            if isinstance(value, dict):
                rows.extend({"item": f"{key}: {k}", "value": v, "money": key == "deposited_by_method"}
                            for k, v in value.items())
            else:
                rows.append({"item": key, "value": value, "money": key in SUMMARY_MONEY})
        return rows
    return [{k: (int(v) if v is not None and not isinstance(v, (int, str, float)) else v) for k, v in r.items()}
            for r in data]


def is_money(row: dict, column: str) -> bool:
    if column == "value":
        return bool(row.get("money"))
    return column in MONEY


def columns(rows: list[dict]) -> list[str]:
    return [k for k in rows[0] if k != "money"] if rows else []
