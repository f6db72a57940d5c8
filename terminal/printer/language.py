"""Receipt language: words from the terminal's catalogue (terminal.i18n), money and dates per locale."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from terminal.i18n import N_, catalogue_name, translations
from terminal.money import format_money

_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


class ReceiptLanguage:
    """Everything locale-dependent a receipt needs: words, money, times."""

    def __init__(self, tag: str = "en", timezone: str | tzinfo | None = None) -> None:
        self.tag = tag
        self.catalogue = catalogue_name(tag)
        self.locale = self.catalogue if self.catalogue != "en" else "en"
        self._t = translations(tag)
        if isinstance(timezone, str):
            timezone = ZoneInfo(timezone) if timezone else None
        self.tz = timezone or datetime.now().astimezone().tzinfo

    def __call__(self, message: str) -> str:
        return self._t.gettext(message)

    def money(self, amount: int, currency: str, *, signed: bool = False) -> str:
        text = format_money(abs(amount), currency, self.locale).translate(_SPACES)
        if signed:
            return ("-" if amount < 0 else "+") + text
        return ("-" + text) if amount < 0 else text

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        return format_datetime(moment, "medium", tzinfo=self.tz, locale=self.locale).translate(_SPACES)

    def when_short(self, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        return format_datetime(moment, "short", tzinfo=self.tz, locale=self.locale).translate(_SPACES)

    def method(self, name: str) -> str:
        return self(METHODS.get(name, name))

    def op(self, name: str) -> str:
        return self(OPS.get(name, name))


# msgids for data values, kept here so the catalogue has them.
METHODS = {"cash": N_("cash"), "card": N_("card"), "voucher": N_("voucher"), "comp": N_("complimentary"),
           "face": N_("face")}
OPS = {
    "issue": N_("issued"),
    "topup": N_("top-up"),
    "sale": N_("sale"),
    "void": N_("void"),
    "close": N_("refund"),
    "replace": N_("replacement"),
    "correct": N_("correction"),
}
