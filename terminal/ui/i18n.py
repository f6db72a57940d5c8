"""Words, money and times in the terminal's language, from the shared gettext catalogues (domain "stallpay").

Messages the server sends to screens (decline reasons, hints) are marked
with `N_` so `pybabel extract` finds them, and translated when a state is
published; templates use Jinja2's i18n extension with one environment per
language.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jinja2
from babel.dates import format_datetime, format_time

from terminal.i18n import LANGUAGES, translations
from terminal.i18n import N_ as N_  # re-exported: the ui marks its messages with it
from terminal.money import format_money

TEMPLATES = Path(__file__).resolve().parent / "templates"
BABEL_LOCALES = {"en": "en", "tr": "tr", "bg": "bg", "zh": "zh_Hans_CN"}
LANGUAGE_NAMES = {"en": "English", "tr": "Türkçe", "bg": "Български", "zh": "简体中文"}


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


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             extensions=["jinja2.ext.i18n"], auto_reload=False)
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env
