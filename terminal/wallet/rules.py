"""Risk and business rules: pure functions that say whether an operation may happen and why not.

Nothing here touches a card or the database, so every rule is tested (and
fuzzed) on plain values. The reason codes are stable: the UI translates them
and the collector counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.money import format_money, is_minor_units
from terminal.refusal import Refusal
from terminal.wallet.purse import U24 as NTAG_RECORD_MAX
from terminal.wallet.purse import Op, Record


class Declined(Refusal):
    """The operation is refused; nothing was written to the card. `missing`: how much more money it needs."""

    def __init__(self, code: str, message: str, *, missing: int | None = None) -> None:
        super().__init__(code, message)
        self.missing = missing


@dataclass(frozen=True)
class Limits:
    """`max_balance` for any card; an NTAG band (whose key every terminal holds) is also capped at
    `ntag_max_balance`; `credit_per_day` bounds what one terminal can create in a UTC day. None = no separate
    cap (a terminal's configuration always sets both; see `terminal.config.LimitsSection`)."""

    max_balance: int = 50_000
    max_sale: int = 20_000
    void_window_s: int = 600
    ntag_max_balance: int | None = None
    credit_per_day: int | None = None

    def balance_cap(self, *, ntag: bool) -> int:
        """An NTAG band's compact record holds at most 16,777,215 minor units, whatever the configuration says."""
        if ntag:
            return min(self.max_balance, NTAG_RECORD_MAX,
                       self.ntag_max_balance if self.ntag_max_balance is not None else NTAG_RECORD_MAX)
        return self.max_balance


TOPUP_METHODS = ("cash", "card", "voucher", "comp")


def check_amount(amount: object) -> int:
    if not is_minor_units(amount, minimum=None):
        raise Declined("invalid_amount", f"amount must be whole minor units, got {amount!r}")
    if amount <= 0:
        raise Declined("invalid_amount", "amount must be more than zero")
    return amount


RECORD_MAX = 0xFFFFFFFF  # the sealed record's sequence and spent fields are 32-bit


def check_usable(record: Record) -> None:
    if record.closed:
        raise Declined("closed", "this card was closed and refunded; it cannot be used")
    if record.seq >= RECORD_MAX:
        raise Declined("card_full", "this card has no transactions left: replace it at a cashier")


def check_sale(record: Record, amount: int, limits: Limits, currency: str) -> None:
    check_amount(amount)
    check_usable(record)
    if record.spent + amount > RECORD_MAX:
        raise Declined("card_full", "this card cannot record more spending: replace it at a cashier")
    if amount > limits.max_sale:
        raise Declined("over_max_sale",
                       f"a single sale is limited to {format_money(limits.max_sale, currency)}")
    if amount > record.balance:
        missing = amount - record.balance
        raise Declined("insufficient_funds",
                       f"insufficient funds: {format_money(missing, currency)} missing "
                       f"(balance {format_money(record.balance, currency)})", missing=missing)


def check_topup(record: Record | None, amount: int, method: str, limits: Limits, currency: str, *,
                ntag: bool = False) -> None:
    check_amount(amount)
    if method not in TOPUP_METHODS:
        raise Declined("invalid_method", f"unknown payment method {method!r} (use {', '.join(TOPUP_METHODS)})")
    balance = 0
    if record is not None:
        check_usable(record)
        balance = record.balance
    cap = limits.balance_cap(ntag=ntag)
    if balance + amount > cap:
        room = max(0, cap - balance)
        raise Declined("over_max_balance",
                       f"the balance may not exceed {format_money(cap, currency)}; "
                       f"at most {format_money(room, currency)} can be loaded")


def check_record(record: Record, previous: Record | None, limits: Limits, *, ntag: bool) -> None:
    """A record read from a card must be one the rules could have written: within the balance cap, comp no more
    than the balance, and its step from the record before within the per-operation limits. A record outside
    them was written with a stolen key, so it is refused on read, not only when a write would exceed a limit."""
    cap = limits.balance_cap(ntag=ntag)
    if record.balance > cap:
        raise Declined("over_limit", f"the card shows a balance of {record.balance} above this event's maximum "
                       f"of {cap}: refused, report to the organizer")
    if record.comp > record.balance:
        raise Declined("over_limit", "the card's complimentary credit exceeds its balance: refused")
    if previous is None or previous.seq != record.seq - 1:
        return
    if record.op is Op.SALE and previous.balance - record.balance > limits.max_sale:
        raise Declined("over_limit", "the card's last sale is above the per-sale limit: refused")
    if record.op is Op.SALE and record.balance > previous.balance:
        raise Declined("over_limit", "the card's last sale raised its balance: refused")


def check_credit_today(credited_today: int, amount: int, limits: Limits, currency: str) -> None:
    """The terminal's own ceiling on money it creates per day (a stolen or misused terminal is bounded)."""
    if limits.credit_per_day is not None and credited_today + amount > limits.credit_per_day:
        room = max(0, limits.credit_per_day - credited_today)
        raise Declined("over_credit_ceiling",
                       f"this terminal may credit at most {format_money(limits.credit_per_day, currency)} a day; "
                       f"{format_money(room, currency)} left today")


def check_void(record: Record, previous: Record | None, *, terminal_id: int, sale_time: int | None,
               sale_amount: int | None, now: int, limits: Limits) -> None:
    check_usable(record)
    if record.op is not Op.SALE:
        raise Declined("nothing_to_void", "the card's last operation is not a sale that can be voided")
    if record.terminal != terminal_id:
        raise Declined("void_other_terminal", "the last sale on this card was made at another terminal")
    if sale_amount is None:
        raise Declined("nothing_to_void", "this terminal's journal has no record of the card's last sale")
    if sale_time is not None and now - sale_time > limits.void_window_s:
        raise Declined("void_window_passed",
                       f"a sale can only be voided within {limits.void_window_s // 60} minutes")
    if previous is None or previous.seq != record.seq - 1:
        raise Declined("nothing_to_void", "the card does not hold the state before the sale")


def plan_sale(record: Record, amount: int, *, now: int, terminal_id: int) -> Record:
    """Complimentary credit is spent first, so what is left refundable is the guest's own money."""
    return record.next(Op.SALE, balance=record.balance - amount, spent=record.spent + amount,
                       comp=max(0, record.comp - amount), time=now, terminal=terminal_id)


def plan_topup(record: Record, amount: int, method: str, *, now: int, terminal_id: int) -> Record:
    comp = record.comp + amount if method == "comp" else record.comp
    return record.next(Op.TOPUP, balance=record.balance + amount, comp=comp, time=now, terminal=terminal_id)


def plan_void(record: Record, previous: Record, amount: int, *, now: int, terminal_id: int) -> Record:
    return record.next(Op.VOID, balance=record.balance + amount, spent=record.spent - amount,
                       comp=previous.comp, time=now, terminal=terminal_id)


def plan_close(record: Record, *, now: int, terminal_id: int) -> Record:
    return record.next(Op.CLOSE, balance=0, comp=0, time=now, terminal=terminal_id)


def plan_issue(amount: int, method: str, *, now: int, terminal_id: int) -> Record:
    return Record(seq=1, balance=amount, spent=0, comp=amount if method == "comp" else 0, time=now,
                  terminal=terminal_id, op=Op.ISSUE)
