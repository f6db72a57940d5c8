"""Amounts in integer minor units, formatted and parsed per locale with Babel.

Money never passes through a float: parsing goes through Decimal and refuses
anything finer than the currency's minor unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision

# Journal operations that move money; a `replace` moves a balance between two cards, a `correct` fixes a record.
MONEY_OPS = ("issue", "topup", "sale", "void", "close")


def moved_money(entry: Mapping[str, Any], ops: tuple[str, ...] = MONEY_OPS) -> bool:
    """A committed journal entry of one of `ops`: what day totals, card histories and reports count (an intent,
    an abort or an info entry never is)."""
    return entry.get("phase") == "commit" and entry.get("op") in ops


class AmountError(ValueError):
    """An amount a person typed that is not a valid sum of money."""


def is_minor_units(value: object, *, minimum: int | None = 0) -> bool:
    """Whether `value` can be an amount: an int (never a float, and never a bool, which Python counts as an int)
    of at least `minimum` minor units (None: any sign). Every place that takes an amount asks this one question."""
    return isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)


def precision(currency: str) -> int:
    """Number of minor-unit digits of a currency (EUR 2, JPY 0)."""
    return get_currency_precision(currency.upper())


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    if not is_minor_units(amount_minor, minimum=None):
        raise TypeError(f"amount must be an int of minor units, not {type(amount_minor).__name__}")
    return Decimal(amount_minor).scaleb(-precision(currency))


def format_money(amount_minor: int, currency: str, locale: str = "en") -> str:
    """Display form of an amount, e.g. 1250 EUR -> '€12.50' (en) or '12,50 €' (tr/bg)."""
    return format_currency(to_decimal(amount_minor, currency), currency.upper(), locale=_locale(locale))


def parse_amount(text: str, currency: str) -> int:
    """Parse '12.50' / '12,50' / '1250' typed by a person into minor units.

    Plain digits with a decimal point or comma are accepted; more decimals than
    the currency has is an error rather than a silent rounding.
    """
    raw = text.strip().replace(" ", "").replace("\u00a0", "")
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AmountError(f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise AmountError(f"not an amount: {text!r}")
    digits = precision(currency)
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise AmountError(f"{text!r} has more than {digits} decimals for {currency.upper()}")
    if minor < 0:
        raise AmountError(f"amount must not be negative: {text!r}")
    return int(minor)


def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")
