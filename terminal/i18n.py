"""The terminal's languages and its gettext catalogue (domain "stallpay"), for receipts and screens alike.

The catalogues are the .po files under terminal/locale/<lang>/LC_MESSAGES/. A
compiled .mo is used when it is newer than its .po; otherwise the .po is
compiled in memory with Babel, so no binary file has to be committed. This
module sits at the bottom of the terminal: the printer and the screens both
take their words from here.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("en", "tr", "bg", "zh")
DOMAIN = "stallpay"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# UI language -> catalogue directory; anything else falls back to English.
CATALOGUES = {"en": "en", "tr": "tr", "bg": "bg", "zh": "zh_CN"}


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
