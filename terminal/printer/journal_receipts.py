"""Receipts built from journal entries, so that what is printed is what was booked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from terminal.printer.receipt import (
    Header,
    RefundReceipt,
    SaleItem,
    SaleReceipt,
    StatementLine,
    StatementReceipt,
    TopUpReceipt,
    VoidReceipt,
)

Entry = Mapping[str, Any]


class ReceiptDataError(ValueError):
    """A journal entry or history record that cannot be printed as asked."""


def parse_time(value: str | datetime | None) -> datetime | None:
    """Journal times are ISO-8601 UTC strings ending in Z; printed in local time later."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ReceiptDataError(f"not an ISO-8601 time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def transaction_id(terminal_id: int, seq: int) -> str:
    return f"{terminal_id}-{seq}"


def mask_card(uid: str | None, card_id: int | None = None) -> str:
    """The card's short printed id (#card number, the same on screen, receipt and the collector's reports);
    a uid tail only for a card the journal has no number for. Never enough to copy the card."""
    if card_id is not None:
        return f"#{card_id}"
    if uid:
        return f"****{uid.upper()[-4:]}"
    return "-"


def _need(entry: Entry, op: str) -> None:
    if entry.get("op") != op:
        raise ReceiptDataError(f"journal entry {entry.get('seq')} is a {entry.get('op')!r}, not a {op!r}")
    if entry.get("phase") != "commit":
        raise ReceiptDataError(f"journal entry {entry.get('seq')} is not committed (phase {entry.get('phase')!r})")


def face_account_of(entry: Entry) -> str:
    """The face account a card-less entry moved money on ("" for a card)."""
    data = entry.get("data") or {}
    account = data.get("face_account") if entry.get("card_id") is None and isinstance(data, Mapping) else None
    return account if isinstance(account, str) else ""


def _common(entry: Entry, header: Header) -> dict[str, Any]:
    face = face_account_of(entry)
    return {
        "header": header,
        "time": parse_time(entry["time"]),
        "currency": entry["currency"],
        "clock_synced": bool(entry.get("clock_synced", True)),
        "transaction": transaction_id(entry["terminal_id"], entry["seq"]),
        "card": "" if face else mask_card(entry.get("uid"), entry.get("card_id")),
        "face_account": face,
    }


def items_of(entry: Entry) -> tuple[SaleItem, ...]:
    return tuple(SaleItem.from_item(i) for i in entry.get("items") or ())


def sale_receipt(entry: Entry, header: Header) -> SaleReceipt:
    _need(entry, "sale")
    items = items_of(entry)
    return SaleReceipt(
        **_common(entry, header),
        items=items,
        total=sum(i.total for i in items) if items else int(entry["amount"]),
        paid_from_card=int(entry["amount"]),
        balance_after=int(entry["balance_after"] or 0),
    )


def topup_receipt(entry: Entry, header: Header, *, spent_total: int | None) -> TopUpReceipt:
    """`spent_total` comes from the card (its history or counters): the journal of one terminal cannot know it."""
    if entry.get("op") not in ("topup", "issue", "replace"):
        raise ReceiptDataError(f"journal entry {entry.get('seq')} is a {entry.get('op')!r}, not a top-up")
    if entry.get("phase") != "commit":
        raise ReceiptDataError(f"journal entry {entry.get('seq')} is not committed (phase {entry.get('phase')!r})")
    return TopUpReceipt(
        **_common(entry, header),
        amount=int(entry["amount"]),
        method=entry.get("method") or ("replacement" if entry.get("op") == "replace" else "cash"),
        balance_now=int(entry["balance_after"] or 0),
        spent_total=None if face_account_of(entry) else spent_total,
    )


def void_receipt(entry: Entry, header: Header, *, voided: Entry | None = None) -> VoidReceipt:
    _need(entry, "void")
    voided_seq = (entry.get("data") or {}).get("voids")
    return VoidReceipt(
        **_common(entry, header),
        voided_transaction=transaction_id(entry["terminal_id"], voided_seq) if voided_seq is not None else "-",
        amount=int(entry["amount"]),
        balance_after=int(entry["balance_after"] or 0),
        items=items_of(voided) if voided else (),
    )


def refund_receipt(entry: Entry, header: Header) -> RefundReceipt:
    _need(entry, "close")
    after = int(entry["balance_after"] or 0)
    return RefundReceipt(
        **_common(entry, header),
        amount=int(entry["amount"]),
        method=entry.get("method") or "cash",
        balance_before=int(entry["balance_before"] if entry.get("balance_before") is not None else entry["amount"]),
        balance_after=after,
        card_closed=after == 0,
    )


def statement_receipt(
    history: Iterable[Entry],
    header: Header,
    *,
    card: str,
    balance: int,
    currency: str,
    time: datetime | None = None,
    holder: str | None = None,
) -> StatementReceipt:
    """A card's on-card history records (seq, op, amount, balance, terminal_id, time), oldest first."""
    lines = []
    for record in history:
        try:
            lines.append(
                StatementLine(
                    seq=int(record["seq"]),
                    op=str(record["op"]),
                    amount=int(record["amount"]),
                    balance=int(record["balance"]),
                    terminal_id=int(record["terminal_id"]),
                    time=parse_time(record.get("time")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReceiptDataError(f"card history record is incomplete ({exc}): {dict(record)!r}") from None
    lines.sort(key=lambda line: line.seq)
    return StatementReceipt(
        header=header,
        time=time or datetime.now(UTC),
        currency=currency,
        card=card,
        balance=balance,
        lines=tuple(lines),
        holder=holder or None,
    )
