"""Words and money in the terminal's language, for what the till says back (refusals, hints, results).

The till answers screens in the language a supervisor picked, so it needs the
catalogue and the money format below the screens; `terminal.ui.i18n` adds
dates and the page templates on top of these.
"""

from __future__ import annotations

from terminal.printer.language import N_ as N_  # re-exported: app modules mark their messages with it
from terminal.printer.language import translations
from terminal.wallet.money import format_money

BABEL_LOCALES = {"en": "en", "tr": "tr", "bg": "bg", "zh": "zh_Hans_CN"}


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def money(amount: int | None, currency: str, language: str) -> str:
    if amount is None:
        return ""
    return format_money(int(amount), currency, BABEL_LOCALES.get(language, "en"))
