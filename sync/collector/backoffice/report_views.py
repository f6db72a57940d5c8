"""Every collector report as rows for a page, CSV and PDF: which columns are money, which one to chart.

Adds what the organizer's office needs on top of `sync.collector.reports`: months, and the cash reconciliation per
cashier (cash taken in at issue and top-up, cash paid out at checkout, the drawer that should be left).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sync.collector.backoffice.charts import bars
from sync.collector.backoffice.dashboard import filtered_books
from sync.collector.backoffice.filter_bar import ANOMALIES, DAYS_OF_ANOMALIES, SALES, TERMINALS
from sync.collector.backoffice.language import gettext, money
from sync.collector.report_filters import NONE, Filters
from sync.collector.reports import ReportError, run_named, sync_status
from sync.collector.storage import Store

MONEY = {"net", "total", "gross", "commission", "amount", "balance", "available", "refunded", "deposited", "cash_in",
         "cash_out", "expected_drawer", "refundable", "complimentary_left", "balance_before", "balance_after"}
SUMMARY_MONEY = {"deposited", "spent", "sales", "voids", "refunded", "refunded_at_checkout", "refunded_at_collector",
                 "forfeited_complimentary", "corrections", "outstanding", "outstanding_per_card",
                 "outstanding_face_accounts", "exposure", "negative_balances"}
FACE_MONEY = {"deposited", "spent", "refunded", "refunded_at_collector", "outstanding", "owed_after_checkout"}
"""The money lines of the summary's face-account block (the others count accounts, holds, templates)."""
ENGLISH = {"terminal_id": "Terminal", "card_id": "Card", "account_id": "Account", "event_id": "Event",
           "auth_id": "Authorization", "seq": "Sequence", "card_seq": "Card sequence",
           "clock_skew_ms": "Clock skew (ms)", "oldest_age_h": "Oldest (hours)", "window_h": "Window (hours)",
           "wristband_uid": "Wristband UID"}
"""English words for keys that do not read well by just dropping the underscores."""


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
OTHER = {v.name: v for v in (View("top-products", "Top products", "product", "net"), View("movements", "Movements"),
                             View("card", "Card history"))}
"""Reports the CLI and the API also print, not listed among the back office's pages."""
ALIASES = {"daily": "days", "monthly": "months"}
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


def view_of(name: str) -> View:
    """The view of a report name the CLI or the API accepts (aliases such as `daily` included)."""
    name = ALIASES.get(name, name)
    view = BY_NAME.get(name) or OTHER.get(name)
    if view is None:
        raise ReportError(f"unknown report {name!r}")
    return view


def _summary_rows(data: dict, path: tuple[str, ...] = ()) -> list[dict]:
    """One row per figure; a nested block (face accounts, cards by status) becomes rows `block: key`."""
    rows = []
    for key, value in data.items():
        at = (*path, str(key))
        if isinstance(value, dict):
            rows.extend(_summary_rows(value, at))
            continue
        money = (at[0] in SUMMARY_MONEY if len(at) == 1 else at[0] == "deposited_by_method"
                 or (at[0] == "face_accounts" and len(at) == 2 and at[1] in FACE_MONEY))
        rows.append({"item": ": ".join(at), "value": value, "money": money and isinstance(value, int)})
    return rows


def report_rows(store: Store, name: str, *, commission: float = 0.0, filters: Filters = NONE,
                card: int | None = None) -> list[dict]:
    name = view_of(name).name
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
    data = run_named(store, name, commission=commission, filters=filters, card=card)
    if name == "summary":
        return _summary_rows(data)
    return [{k: (int(v) if v is not None and not isinstance(v, (int, str, float)) else v) for k, v in r.items()}
            for r in data]


def is_money(row: dict, column: str) -> bool:
    if column == "value":
        return bool(row.get("money"))
    return column in MONEY


def columns(rows: list[dict]) -> list[str]:
    return [k for k in rows[0] if k != "money"] if rows else []


def label(language: str, key: str) -> str:
    """A column or summary key as words: translated if the catalogue has it, else `books_balance` → "Books balance".

    Summary items name their block too (`face_accounts: accounts_by_status: active`); each part is labelled.
    """
    if ": " in key:
        return " · ".join(label(language, part) for part in key.split(": "))
    text = gettext(language, key)
    if text != key:
        return text[:1].upper() + text[1:]  # a heading: "Търговец", not "търговец"
    return ENGLISH.get(key) or (key[:1].upper() + key[1:]).replace("_", " ")


def cell(row: dict, column: str, currency: str, language: str) -> str:
    """A value as shown on a page or in a PDF: money in major units with the currency, yes/no, nothing for None."""
    v = row.get(column)
    if is_money(row, column) and isinstance(v, int) and not isinstance(v, bool):
        return money(v, currency, language)
    if isinstance(v, bool):
        return gettext(language, "yes" if v else "no")
    return "" if v is None else str(v)


def chart(view: View, rows: list[dict], currency: str, language: str) -> str:
    """The report's bar chart (its first 40 rows) as inline SVG, or "" for a report with nothing to chart."""
    if not (view.value and rows):
        return ""
    shown = rows[:40]
    labels = [str(r.get(view.label) or f"{gettext(language, 'Terminal')} {r.get('terminal_id', '?')}") for r in shown]
    return bars(labels, [int(r.get(view.value) or 0) for r in shown], lambda v: money(v, currency, language),
                width=760, title=gettext(language, view.title))
