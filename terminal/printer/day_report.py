"""The end-of-day report, computed from the terminal's own journal.

A pure function over journal entries (dicts), so that it works offline, in
tests and on any copy of a journal. Only committed entries move money; a
commit that carries no items or method takes them from its intent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from terminal.money import moved_money
from terminal.printer.journal_receipts import ReceiptDataError, parse_time, transaction_id
from terminal.printer.receipt import Counts, DayReport, Header, OperatorTotals, Total

BREAKDOWNS = ("sales", "topups", "refunds", "face_topups", "face_refunds")
OPERATOR_ROWS = ("sales", "topups", "refunds", "voids")


def _add(row: list[int], amount: int) -> None:
    row[0] += 1
    row[1] += amount


def day_report(
    entries: Iterable[Mapping[str, Any]],
    header: Header,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    currency: str | None = None,
    now: datetime | None = None,
) -> DayReport:
    """Totals of `header.terminal_id`'s committed entries with start <= time < end.

    Voided sales are taken out of the product totals and counted as voids;
    sales by method are net of voids.
    """
    intents: dict[int, Mapping[str, Any]] = {}
    commits: list[Mapping[str, Any]] = []
    declines = 0
    for entry in entries:
        if entry.get("terminal_id") != header.terminal_id:
            continue
        if entry.get("phase") == "intent":
            intents[entry["seq"]] = entry
            continue
        when = parse_time(entry["time"])
        if (start and when < start) or (end and when >= end):
            continue
        if entry.get("op") == "decline":
            declines += 1
        elif moved_money(entry):
            commits.append(entry)

    currencies = {e["currency"] for e in commits}
    if len(currencies) > 1:
        raise ReceiptDataError(f"journal mixes currencies {sorted(currencies)}; one report per currency")
    currency = currency or (currencies.pop() if currencies else "EUR")

    def field(entry: Mapping[str, Any], name: str) -> Any:
        value = entry.get(name)
        if value in (None, []) and entry.get("ref") in intents:
            return intents[entry["ref"]].get(name)
        return value

    commits.sort(key=lambda e: e["seq"])
    voided: set[int] = set()
    for e in commits:
        if e["op"] == "void":
            target = (field(e, "data") or {}).get("voids")
            if target is not None:
                voided.add(int(target))
                # a void may name the sale's intent or its commit: accept both
                for sale in commits:
                    if sale["op"] == "sale" and sale.get("ref") == target:
                        voided.add(sale["seq"])

    products: dict[str, list] = {}
    rows: dict[str, dict[str, list[int]]] = {k: defaultdict(lambda: [0, 0]) for k in BREAKDOWNS}
    ops: dict[str, dict[str, list[int]]] = {}
    n = dict.fromkeys(("sales", "voids", "issues"), 0)
    sums = dict.fromkeys(("sales", "voids"), 0)
    unsynced = 0
    for e in commits:  # the one pass: every total below is a sum of these rows
        op, amount = e["op"], int(e["amount"])
        face = isinstance(e.get("data"), Mapping) and "face_account" in e["data"]
        by_op = ops.setdefault(str(e.get("operator") or "-"), defaultdict(lambda: [0, 0]))
        unsynced += not e.get("clock_synced", True)
        n["issues"] += op == "issue"
        if op == "sale":
            n["sales"] += 1
            sums["sales"] += amount
            _add(by_op["sales"], amount)
            if e["seq"] in voided:
                continue
            _add(rows["sales"]["face" if face else field(e, "method") or "card"], amount)
            for item in field(e, "items") or ():
                key = str(item.get("sku") or item["name"])
                row = products.setdefault(key, [item["name"], 0, 0])
                row[1] += int(item["qty"])
                row[2] += int(item["qty"]) * int(item["unit_price"])
        elif op == "void":
            n["voids"] += 1
            sums["voids"] += amount
            _add(by_op["voids"], amount)
        elif op in ("topup", "issue") and amount:
            _add(rows["face_topups" if face else "topups"][field(e, "method") or "cash"], amount)
            _add(by_op["topups"], amount)
        elif op == "close":  # what was paid out: complimentary credit cleared from the card is forfeited
            paid = (field(e, "data") or {}).get("refund", amount)
            paid = paid if isinstance(paid, int) and not isinstance(paid, bool) else amount
            _add(rows["face_refunds" if face else "refunds"][field(e, "method") or "cash"], paid)
            _add(by_op["refunds"], paid)

    def count(*names: str) -> int:
        return sum(c for name in names for c, _a in rows[name].values())

    def amount(*names: str) -> int:
        return sum(a for name in names for _c, a in rows[name].values())

    def cash(name: str) -> int:
        return rows[name]["cash"][1] if "cash" in rows[name] else 0

    def totals(rows: Mapping[str, list[int]]) -> tuple[Total, ...]:
        return tuple(Total(key=k, label=k, count=c, amount=a) for k, (c, a) in sorted(rows.items()))

    by_product = tuple(
        Total(key=k, label=name, count=qty, amount=amount)
        for k, (name, qty, amount) in sorted(products.items(), key=lambda kv: (-kv[1][2], kv[1][0]))
    )
    first, last = (commits[0], commits[-1]) if commits else (None, None)
    return DayReport(
        header=header,
        time=now or datetime.now(UTC),
        currency=currency,
        by_product=by_product,
        sales_by_method=totals(rows["sales"]),
        topups_by_method=totals(rows["topups"]),
        refunds_by_method=totals(rows["refunds"]),
        face_topups_by_method=totals(rows["face_topups"]),
        face_refunds_by_method=totals(rows["face_refunds"]),
        counts=Counts(declines=declines, topups=count("topups", "face_topups"),
                      refunds=count("refunds", "face_refunds"), **n),
        sales_total=sums["sales"],
        voids_total=sums["voids"],
        topups_total=amount("topups", "face_topups"),
        refunds_total=amount("refunds", "face_refunds"),
        expected_cash=cash("sales") + cash("topups") + cash("face_topups") - cash("refunds") - cash("face_refunds"),
        by_operator=tuple(
            OperatorTotals(operator=name, **{k: Total(key=k, label=k, count=v[k][0], amount=v[k][1])
                                             for k in OPERATOR_ROWS})
            for name, v in sorted(ops.items())
        ),
        first_transaction=transaction_id(first["terminal_id"], first["seq"]) if first else None,
        first_time=parse_time(first["time"]) if first else None,
        last_transaction=transaction_id(last["terminal_id"], last["seq"]) if last else None,
        last_time=parse_time(last["time"]) if last else None,
        unsynced_clock=unsynced,
    )
