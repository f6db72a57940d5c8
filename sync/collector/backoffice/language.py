"""Words, money and times of the back office and the portal in four languages (en, tr, bg, zh_CN).

Catalogues are gettext .po files under `locale/` (domain "backoffice"), read with Babel; money is
always shown in major units with the currency, formatted for the language.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.numbers import format_currency, get_currency_precision

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"en": "English", "tr": "Türkçe", "bg": "Български", "zh_CN": "简体中文"}
BABEL_LOCALES = {"en": "en", "tr": "tr", "bg": "bg", "zh_CN": "zh_Hans_CN"}


def pick_language(cookie: str | None, accept: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag in LANGUAGES:
            return tag
        if tag[:2] == "zh":
            return "zh_CN"
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return "en"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "backoffice.po"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id and m.string}


def gettext(language: str, message: str) -> str:
    return catalogue(language).get(message, message)


def major(amount: int, currency: str) -> Decimal:
    """Minor units as an exact decimal in major units (no floats)."""
    return Decimal(int(amount)).scaleb(-get_currency_precision(currency))


def money(amount: int | None, currency: str, language: str = "en") -> str:
    if amount is None:
        return ""
    return format_currency(major(amount, currency), currency, locale=BABEL_LOCALES.get(language, "en"))


def money_plain(amount: int, currency: str) -> str:
    """Major units without symbol or grouping, for CSV files and SEPA amounts (e.g. 12.50)."""
    return f"{major(amount, currency):.{get_currency_precision(currency)}f}"
