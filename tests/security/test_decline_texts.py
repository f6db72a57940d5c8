"""The till's words for the role, limit and key refusals: every one has a text, translated in every language."""

from __future__ import annotations

import pytest

from terminal.i18n import translations
from terminal.ui.screen_text import DECLINE_TEXT

CODES = ("not_permitted", "not_permitted_mode", "unknown_operator", "over_limit", "over_credit_ceiling", "card_full",
         "card_refused", "no_key", "out_of_card_ids", "newer_epoch", "old_epoch", "rekey_interrupted")


@pytest.mark.parametrize("language", ["tr", "bg", "zh_CN"])
def test_every_key_and_role_refusal_is_worded_in_every_language(language: str) -> None:
    words = translations(language)
    for code in CODES:
        english = DECLINE_TEXT[code]
        assert words.gettext(english) != english, f"{code} untranslated in {language}"
