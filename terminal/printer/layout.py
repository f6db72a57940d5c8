"""A receipt laid out as lines on a given paper, the same for paper and preview.

The layout decides every character position (columns of the printer's font A,
double-width characters counted twice), so ESC/POS text, ESC/POS images and
the PNG preview all show the same thing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from escpos.capabilities import get_profile

from terminal.config import PrinterSection
from terminal.i18n import N_
from terminal.printer.language import ReceiptLanguage
from terminal.printer.receipt import (
    DayReport,
    Receipt,
    RefundReceipt,
    SaleItem,
    SaleReceipt,
    StatementReceipt,
    TopUpReceipt,
    Total,
    VoidReceipt,
)

DEFAULT_PROFILE = {58: "POS-5890", 80: "TM-T20II"}
DEFAULT_DOTS = {58: 384, 80: 576}
DEFAULT_COLUMNS = {58: 32, 80: 48}
CUSTOMER_KINDS = ("sale", "topup", "void", "refund")


class LayoutError(ValueError):
    """Paper or profile settings that cannot produce a receipt."""


@dataclass(frozen=True)
class Paper:
    """What the printer can put on one line: dots across and font A columns."""

    width_mm: int
    profile: str
    dots: int
    columns: int

    @property
    def cell(self) -> int:
        return self.dots // self.columns


def paper_for(settings: PrinterSection) -> Paper:
    name = settings.profile or DEFAULT_PROFILE[settings.width]
    try:
        profile = get_profile(name)
    except Exception:  # python-escpos raises its own NotSupported / KeyError variants
        raise LayoutError(f"unknown printer profile {name!r} (see 'python-escpos' profiles, e.g. TM-T20II)") from None
    pixels = profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    if isinstance(pixels, int) and pixels > 0:
        columns = int(profile.profile_data["fonts"]["0"]["columns"])
        return Paper(settings.width, name, pixels, columns)
    return Paper(settings.width, name, DEFAULT_DOTS[settings.width], DEFAULT_COLUMNS[settings.width])


@dataclass(frozen=True)
class TextLine:
    """One printed line, already padded to the paper's columns (halved when big)."""

    text: str
    bold: bool = False
    big: bool = False


@dataclass(frozen=True)
class Logo:
    path: Path


@dataclass(frozen=True)
class Qr:
    data: str


@dataclass(frozen=True)
class Cut:
    pass


Block = TextLine | Logo | Qr | Cut


@dataclass
class Layout:
    paper: Paper
    kind: str
    blocks: list[Block] = field(default_factory=list)

    def text(self) -> list[str]:
        """The text lines, right-stripped: what the tests and the admin screen read."""
        return [b.text.rstrip() for b in self.blocks if isinstance(b, TextLine)]


def char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def wrap(text: str, width: int) -> list[str]:
    """Word wrap counting double-width characters; CJK text breaks anywhere."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if text_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for ch in word:
            if text_width(current + ch) > width:
                lines.append(current)
                current = ""
            current += ch
    if current or not lines:
        lines.append(current)
    return lines


class _Writer:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.columns = layout.paper.columns

    def _cols(self, big: bool) -> int:
        return self.columns // 2 if big else self.columns

    def add(self, text: str, *, bold: bool = False, big: bool = False) -> None:
        self.layout.blocks.append(TextLine(text, bold, big))

    def left(self, text: str, *, bold: bool = False, big: bool = False, indent: int = 0) -> None:
        for line in wrap(text, self._cols(big) - indent):
            self.add(" " * indent + line, bold=bold, big=big)

    def center(self, text: str, *, bold: bool = False, big: bool = False) -> None:
        cols = self._cols(big)
        for line in wrap(text, cols):
            pad = (cols - text_width(line)) // 2
            self.add(" " * pad + line, bold=bold, big=big)

    def pair(self, label: str, value: str, *, bold: bool = False, big: bool = False) -> None:
        cols = self._cols(big)
        gap = cols - text_width(label) - text_width(value)
        if gap >= 1:
            self.add(label + " " * gap + value, bold=bold, big=big)
            return
        self.left(label, bold=bold, big=big)
        self.add(" " * max(0, cols - text_width(value)) + value, bold=bold, big=big)

    def rule(self, char: str = "-") -> None:
        self.add(char * self.columns)

    def blank(self) -> None:
        self.add("")


def layout_receipt(
    receipt: Receipt,
    paper: Paper,
    lang: ReceiptLanguage,
    *,
    copies: int = 1,
    qr_url: str = "",
    logo: Path | None = None,
    event_id: str = "",
) -> Layout:
    """Lay out one receipt; with copies=2 a merchant copy then a customer copy, each cut."""
    layout = Layout(paper, receipt.kind)
    w = _Writer(layout)
    two = copies == 2 and receipt.kind in CUSTOMER_KINDS
    labels = [lang(MERCHANT_COPY), lang(CUSTOMER_COPY)] if two else [None]
    for label in labels:
        _one_copy(w, receipt, lang, label, qr_url, logo, event_id)
    return layout


MERCHANT_COPY, CUSTOMER_COPY = N_("Merchant copy"), N_("Customer copy")
TITLES = {
    "sale": N_("SALE"),
    "topup": N_("TOP-UP"),
    "void": N_("VOID"),
    "refund": N_("REFUND"),
    "statement": N_("CARD STATEMENT"),
    "day": N_("END OF DAY REPORT"),
}


def _one_copy(
    w: _Writer,
    r: Receipt,
    _: ReceiptLanguage,
    copy_label: str | None,
    qr_url: str,
    logo: Path | None,
    event_id: str,
) -> None:
    h = r.header
    if logo is not None:
        w.layout.blocks.append(Logo(logo))
    w.center(h.vendor, bold=True, big=True)
    if h.event:
        w.center(h.event)
    w.rule("=")
    w.center(_(TITLES[r.kind]), bold=True, big=True)
    if copy_label:
        w.center(copy_label)
    w.blank()
    w.pair(_("Date"), _.when(r.time))
    if not r.clock_synced:
        w.center(_("(terminal clock not synchronised)"))
    w.pair(_("Terminal"), str(h.terminal_id))
    if h.operator:
        w.pair(_("Operator"), h.operator)
    transaction = getattr(r, "transaction", None)
    if transaction:
        w.pair(_("Transaction"), transaction)
    card = getattr(r, "card", None)
    if card:
        w.pair(_("Card"), card)
    if r.face_account:
        w.pair(_("Face account"), r.face_account)
    w.rule()
    money = _.money
    if isinstance(r, SaleReceipt):
        _items(w, r.items, r.currency, _)
        w.rule()
        w.pair(_("TOTAL"), money(r.total, r.currency), bold=True, big=True)
        w.pair(_("Paid by face") if r.face_account else _("Paid from card"), money(r.paid_from_card, r.currency))
        w.pair(_("Balance after"), money(r.balance_after, r.currency), bold=True)
    elif isinstance(r, TopUpReceipt):
        w.pair(_("Loaded"), money(r.amount, r.currency), bold=True, big=True)
        w.pair(_("Method"), _.method(r.method))
        w.pair(_("Balance now"), money(r.balance_now, r.currency), bold=True)
        if r.spent_total is not None:
            w.pair(_("Spent so far"), money(r.spent_total, r.currency))
    elif isinstance(r, VoidReceipt):
        w.pair(_("Cancels transaction"), r.voided_transaction)
        if r.items:
            _items(w, r.items, r.currency, _)
            w.rule()
        w.pair(_("Returned to card"), money(r.amount, r.currency), bold=True, big=True)
        w.pair(_("Balance after"), money(r.balance_after, r.currency), bold=True)
    elif isinstance(r, RefundReceipt):
        w.pair(_("Balance before"), money(r.balance_before, r.currency))
        w.pair(_("Refunded"), money(r.amount, r.currency), bold=True, big=True)
        w.pair(_("Method"), _.method(r.method))
        w.pair(_("Balance after"), money(r.balance_after, r.currency), bold=True)
        if r.face_account:
            w.center(_("Account closed, face template erased"), bold=True)
        elif r.card_closed:
            w.center(_("Card closed"), bold=True)
    elif isinstance(r, StatementReceipt):
        _statement(w, r, _)
    elif isinstance(r, DayReport):
        _day(w, r, _)
    w.rule()
    if qr_url and r.kind != "day":
        w.layout.blocks.append(Qr(_qr_data(qr_url, r, event_id)))
    if r.kind in CUSTOMER_KINDS:
        w.center(_("Thank you!"))
    w.layout.blocks.append(Cut())


def _items(w: _Writer, items: tuple[SaleItem, ...], currency: str, _: ReceiptLanguage) -> None:
    for item in items:
        w.left(item.name)
        w.pair(f"  {item.qty} x {_.money(item.unit_price, currency)}", _.money(item.total, currency))


def _statement(w: _Writer, r: StatementReceipt, _: ReceiptLanguage) -> None:
    if r.holder:
        w.pair(_("Holder"), r.holder)
    w.pair(_("Balance"), _.money(r.balance, r.currency), bold=True, big=True)
    w.rule()
    if not r.lines:
        w.center(_("No transactions on this card"))
    for line in r.lines:
        sign = -1 if line.op in ("sale", "close") else 1
        w.pair(f"#{line.seq} {_.op(line.op)}", _.money(sign * line.amount, r.currency, signed=True))
        w.pair(f"  {_.when_short(line.time)} T{line.terminal_id}", _.money(line.balance, r.currency))


def _totals(w: _Writer, title: str, rows: tuple[Total, ...], currency: str, _: ReceiptLanguage, label) -> None:
    if not rows:
        return
    w.blank()
    w.left(title, bold=True)
    for row in rows:
        w.pair(f"{row.count} x {label(row.label)}", _.money(row.amount, currency))


def _day(w: _Writer, r: DayReport, _: ReceiptLanguage) -> None:
    c, cur, money = r.counts, r.currency, _.money
    w.pair(_("First"), f"{r.first_transaction or '-'}")
    w.pair("", _.when(r.first_time))
    w.pair(_("Last"), f"{r.last_transaction or '-'}")
    w.pair("", _.when(r.last_time))
    if r.unsynced_clock:
        w.left(_("Entries with unsynchronised clock") + f": {r.unsynced_clock}")
    w.rule()
    w.pair(_("Sales"), f"{c.sales}  {money(r.sales_total, cur)}")
    w.pair(_("Voids"), f"{c.voids}  {money(-r.voids_total, cur)}")
    w.pair(_("Net sales"), money(r.net_sales, cur), bold=True)
    w.pair(_("Top-ups"), f"{c.topups}  {money(r.topups_total, cur)}")
    w.pair(_("Refunds"), f"{c.refunds}  {money(r.refunds_total, cur)}")
    if c.issues:
        w.pair(_("Cards issued"), str(c.issues))
    if c.declines:
        w.pair(_("Declined"), str(c.declines))
    _totals(w, _("By product"), r.by_product, cur, _, lambda s: s)
    _totals(w, _("Sales by payment method"), r.sales_by_method, cur, _, _.method)
    _totals(w, _("Top-ups by method"), r.topups_by_method, cur, _, _.method)
    _totals(w, _("Refunds by method"), r.refunds_by_method, cur, _, _.method)
    _totals(w, _("Face top-ups by method"), r.face_topups_by_method, cur, _, _.method)
    _totals(w, _("Face checkouts by method"), r.face_refunds_by_method, cur, _, _.method)
    w.blank()
    w.pair(_("Expected cash in drawer"), money(r.expected_cash, cur), bold=True)
    for o in r.by_operator:
        w.blank()
        w.left(_("Operator") + f": {o.operator}", bold=True)
        for title, t in ((_("Sales"), o.sales), (_("Top-ups"), o.topups), (_("Refunds"), o.refunds),
                         (_("Voids"), o.voids)):
            if t.count:
                w.pair(f"{t.count} x {title}", money(t.amount, cur))
    w.blank()
    w.pair(_("Printed"), _.when(r.time))


class _QrFields(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _qr_data(template: str, r: Receipt, event_id: str) -> str:
    transaction = getattr(r, "transaction", "") or ""
    seq = transaction.rsplit("-", 1)[-1] if transaction else ""
    return template.format_map(
        _QrFields(
            transaction=transaction,
            terminal=str(r.header.terminal_id),
            seq=seq,
            card=getattr(r, "card", "") or "",
            event=event_id,
            kind=r.kind,
        )
    )
