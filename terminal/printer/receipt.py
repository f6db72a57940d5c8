"""What a receipt says, independent of paper, printer and language.

One model per kind; the layout turns any of them into printable lines, and the
ESC/POS and PNG renderers draw those lines. Amounts are integer minor units.
A sale's lines are `terminal.catalogue.SaleItem`, the type the cart holds too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from terminal.catalogue import SaleItem


@dataclass(frozen=True, kw_only=True)
class Header:
    """Who issued the receipt: printed at the top of every kind."""

    vendor: str
    terminal_id: int
    operator: str | None = None
    event: str = ""


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """Fields every kind has. `time` is timezone-aware (UTC from the journal)."""

    kind: ClassVar[str] = ""
    header: Header
    time: datetime
    currency: str
    clock_synced: bool = True
    face_account: str = ""  # paid or loaded by face: printed instead of a card, and "Paid by face"


@dataclass(frozen=True, kw_only=True)
class SaleReceipt(Receipt):
    kind: ClassVar[str] = "sale"
    transaction: str
    card: str
    items: tuple[SaleItem, ...]
    total: int
    paid_from_card: int
    balance_after: int


@dataclass(frozen=True, kw_only=True)
class TopUpReceipt(Receipt):
    kind: ClassVar[str] = "topup"
    transaction: str
    card: str
    amount: int
    method: str
    balance_now: int
    spent_total: int | None  # None: not known here (a face account's spending is spread over terminals)


@dataclass(frozen=True, kw_only=True)
class VoidReceipt(Receipt):
    kind: ClassVar[str] = "void"
    transaction: str
    card: str
    voided_transaction: str
    amount: int
    balance_after: int
    items: tuple[SaleItem, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RefundReceipt(Receipt):
    """Money paid back at checkout; the card is closed when nothing is left on it."""

    kind: ClassVar[str] = "refund"
    transaction: str
    card: str
    amount: int
    method: str
    balance_before: int
    balance_after: int
    card_closed: bool = True


@dataclass(frozen=True, kw_only=True)
class StatementLine:
    seq: int
    op: str
    amount: int
    balance: int
    terminal_id: int
    time: datetime | None


@dataclass(frozen=True, kw_only=True)
class StatementReceipt(Receipt):
    """A card's own history, as a cashier prints it for a guest who asks."""

    kind: ClassVar[str] = "statement"
    card: str
    balance: int
    lines: tuple[StatementLine, ...]
    holder: str | None = None  # name (and phone) given at issue, when this terminal knows it


@dataclass(frozen=True, kw_only=True)
class Total:
    """One row of a report: a product or a payment method with count and amount."""

    key: str
    label: str
    count: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class Counts:
    sales: int = 0
    voids: int = 0
    topups: int = 0
    refunds: int = 0
    issues: int = 0
    declines: int = 0


@dataclass(frozen=True, kw_only=True)
class OperatorTotals:
    """One operator's share of the day: counts and amounts of what they booked (net of nothing)."""

    operator: str
    sales: Total
    topups: Total
    refunds: Total
    voids: Total


@dataclass(frozen=True, kw_only=True)
class DayReport(Receipt):
    """End-of-day figures of one terminal, from its own journal (works offline)."""

    kind: ClassVar[str] = "day"
    by_product: tuple[Total, ...]
    sales_by_method: tuple[Total, ...]
    topups_by_method: tuple[Total, ...]
    refunds_by_method: tuple[Total, ...]
    counts: Counts
    sales_total: int
    voids_total: int
    topups_total: int
    refunds_total: int
    first_transaction: str | None = None
    first_time: datetime | None = None
    last_transaction: str | None = None
    last_time: datetime | None = None
    unsynced_clock: int = field(default=0)
    face_topups_by_method: tuple[Total, ...] = ()
    face_refunds_by_method: tuple[Total, ...] = ()
    expected_cash: int = 0
    by_operator: tuple[OperatorTotals, ...] = ()

    @property
    def net_sales(self) -> int:
        return self.sales_total - self.voids_total


KINDS = ("sale", "topup", "void", "refund", "statement", "day")
