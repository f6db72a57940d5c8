"""Receipt language: gettext catalogue (domain "stallpay"), money and dates per locale.

The catalogues are the .po files under terminal/locale/<lang>/LC_MESSAGES/. A
compiled .mo is used when it is newer than its .po; otherwise the .po is
compiled in memory with Babel, so no binary file has to be committed.
"""

from __future__ import annotations

import gettext
import io
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from terminal.wallet.money import format_money

DOMAIN = "stallpay"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
# UI language -> catalogue directory; anything else falls back to English.
CATALOGUES = {"en": "en", "tr": "tr", "bg": "bg", "zh": "zh_CN"}
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


def N_(message: str) -> str:
    """Mark a message for extraction (`pybabel extract -k N_`); it is translated when shown."""
    return message


class LanguageError(ValueError):
    """A catalogue that cannot be read."""


def catalogue_name(tag: str) -> str:
    """'zh-Hans-CN', 'zh_CN', 'zh' -> 'zh_CN'; 'tr_TR' -> 'tr'; unknown -> 'en'."""
    try:
        language = Locale.parse(tag.replace("-", "_")).language
    except (UnknownLocaleError, ValueError):
        language = tag.replace("-", "_").split("_")[0].lower()
    return CATALOGUES.get(language, "en")


def _compile(po_path: Path) -> bytes:
    with po_path.open("rb") as f:
        try:
            catalog = read_po(f, domain=DOMAIN, abort_invalid=True)
        except Exception as exc:  # babel raises several kinds on a broken file
            raise LanguageError(f"{po_path}: cannot read catalogue: {exc}") from None
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


@lru_cache(maxsize=16)
def translations(tag: str, locale_dir: Path = LOCALE_DIR) -> gettext.NullTranslations:
    name = catalogue_name(tag)
    folder = locale_dir / name / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        data = mo.read_bytes()
    elif po.exists():
        data = _compile(po)
    else:
        return gettext.NullTranslations()
    return gettext.GNUTranslations(io.BytesIO(data))


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
