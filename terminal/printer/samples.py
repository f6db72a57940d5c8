"""Sample receipts of every kind, for the technician's printer check and the demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from terminal.printer.day_report import day_report
from terminal.printer.journal_receipts import statement_receipt
from terminal.printer.receipt import (
    Header,
    Receipt,
    RefundReceipt,
    SaleItem,
    SaleReceipt,
    TopUpReceipt,
    VoidReceipt,
)

NAMES = {
    "en": ("Lemonade", "Falafel wrap", "Ice cream"),
    "tr": ("Limonata", "Dürüm şiş", "Dondurma çikolatalı"),
    "bg": ("Лимонада", "Дюнер с пиле", "Сладолед"),
    "zh": ("柠檬水", "鸡肉卷", "冰淇淋"),
}


def sample_journal(terminal_id: int = 3, currency: str = "EUR", locale: str = "en") -> list[dict]:
    """A small day of one terminal: issue, top-ups, sales, a void, a refund, a decline."""
    names = NAMES.get(locale[:2], NAMES["en"])
    start = datetime(2026, 7, 18, 9, 0, tzinfo=UTC)
    rows: list[dict] = []

    def add(op: str, amount: int, **kw) -> dict:
        seq = len(rows) + 1
        time = (start + timedelta(minutes=7 * seq)).isoformat().replace("+00:00", "Z")
        entry = {
            "seq": seq, "terminal_id": terminal_id, "event_id": "demo", "time": time, "clock_synced": True,
            "operator": "anna", "op": op, "phase": "commit", "ref": None, "card_id": kw.pop("card", 1),
            "uid": "04A1B2C3D4E5F6", "card_seq": seq, "amount": amount, "balance_before": None,
            "balance_after": None, "currency": currency, "method": None, "items": [], "data": {},
            "prev_hash": "", "hash": "",
        }
        entry.update(kw)
        rows.append(entry)
        return entry

    def item(i: int, qty: int, price: int) -> dict:
        return {"sku": f"P{i}", "name": names[i], "qty": qty, "unit_price": price}

    add("issue", 0, method="cash")
    add("topup", 5000, method="cash")
    add("topup", 2000, method="card", card=2)
    add("sale", 700, items=[item(0, 2, 350)])
    sale = add("sale", 1150, items=[item(1, 1, 850), item(0, 1, 300)])
    add("void", 1150, data={"voids": sale["seq"]})
    add("sale", 1050, items=[item(2, 3, 350)], card=2)
    add("decline", 0, phase="info")
    add("close", 950, method="cash", card=2)
    return rows


def samples(kind: str, *, locale: str = "en", currency: str = "EUR", vendor: str = "Sample Stall") -> Receipt:
    names = NAMES.get(locale[:2], NAMES["en"])
    header = Header(vendor=vendor, terminal_id=3, operator="anna", event="Summer Festival")
    now = datetime(2026, 7, 18, 16, 30, tzinfo=UTC)
    common = {"header": header, "time": now, "currency": currency, "card": "****E5F6"}
    items = (
        SaleItem(sku="P0", name=names[0], qty=2, unit_price=350),
        SaleItem(sku="P1", name=names[1], qty=1, unit_price=850),
    )
    if kind == "sale":
        return SaleReceipt(**common, transaction="3-42", items=items, total=1550, paid_from_card=1550,
                           balance_after=3450)
    if kind == "topup":
        return TopUpReceipt(**common, transaction="3-43", amount=2000, method="cash", balance_now=5450,
                            spent_total=4550)
    if kind == "void":
        return VoidReceipt(**common, transaction="3-44", voided_transaction="3-42", amount=1550, balance_after=7000,
                           items=items)
    if kind == "refund":
        return RefundReceipt(**common, transaction="3-45", amount=7000, method="cash", balance_before=7000,
                             balance_after=0)
    if kind == "statement":
        history = [
            {"seq": 1, "op": "issue", "amount": 0, "balance": 0, "terminal_id": 1, "time": "2026-07-18T09:02:00Z"},
            {"seq": 2, "op": "topup", "amount": 5000, "balance": 5000, "terminal_id": 1,
             "time": "2026-07-18T09:03:00Z"},
            {"seq": 3, "op": "sale", "amount": 700, "balance": 4300, "terminal_id": 3,
             "time": "2026-07-18T11:40:00Z"},
            {"seq": 4, "op": "sale", "amount": 1550, "balance": 2750, "terminal_id": 5,
             "time": "2026-07-18T13:15:00Z"},
            {"seq": 5, "op": "void", "amount": 1550, "balance": 4300, "terminal_id": 5,
             "time": "2026-07-18T13:16:00Z"},
        ]
        return statement_receipt(history, header, card="****E5F6", balance=4300, currency=currency, time=now,
                                 holder="Ayşe Y. · +90 555 0100")
    if kind == "day":
        return day_report(sample_journal(3, currency, locale), header, now=now)
    raise ValueError(f"unknown receipt kind {kind!r}")
