"""Words, money and times in the terminal's language, for what the till says back (refusals, hints, results).

The till answers screens in the language a supervisor picked, so it needs the
catalogue and the money format below the screens; `terminal.ui.i18n` adds
dates and the page templates on top of these.
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_datetime, format_time

from terminal.i18n import N_ as N_  # re-exported: app modules mark their messages with it
from terminal.i18n import translations
from terminal.money import format_money

BABEL_LOCALES = {"en": "en", "tr": "tr", "bg": "bg", "zh": "zh_Hans_CN"}


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def money(amount: int | None, currency: str, language: str) -> str:
    if amount is None:
        return ""
    return format_money(int(amount), currency, BABEL_LOCALES.get(language, "en"))


def when(value: str | datetime | None, language: str) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return format_datetime(moment.astimezone(), "short", locale=BABEL_LOCALES.get(language, "en"))


def when_short(value: str | datetime | None, language: str, *, today: datetime | None = None) -> str:
    """Only the time for today's entries (a narrow column on an 800x480 screen), date and time otherwise."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    local = moment.astimezone()
    if local.date() == (today or datetime.now().astimezone()).date():
        return format_time(local, "short", locale=BABEL_LOCALES.get(language, "en"))
    return format_datetime(local, "short", locale=BABEL_LOCALES.get(language, "en"))
