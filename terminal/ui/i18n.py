"""Words, money and times in the terminal's language, from the shared gettext catalogues (domain "stallpay").

Messages the server sends to screens (decline reasons, hints) are marked
with `N_` so `pybabel extract` finds them, and translated when a state is
published; templates use Jinja2's i18n extension with one environment per
language.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from terminal.app.words import BABEL_LOCALES as BABEL_LOCALES
from terminal.app.words import N_ as N_  # re-exported: the ui marks its messages with it
from terminal.app.words import gettext as gettext
from terminal.app.words import money as money
from terminal.app.words import when as when
from terminal.app.words import when_short as when_short
from terminal.i18n import LANGUAGES, translations

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGE_NAMES = {"en": "English", "tr": "Türkçe", "bg": "Български", "zh": "简体中文"}


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             extensions=["jinja2.ext.i18n"], auto_reload=False)
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env
