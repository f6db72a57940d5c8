"""The back office's and the portal's catalogues (gettext .po, domain "backoffice"): the same messages in every
language, each translated, kept in sorted order so that a new message lands in one place in each file."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from sync.collector.backoffice.language import LANGUAGES, LOCALE_DIR


def _messages(language: str) -> dict[str, str]:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "backoffice.po").open("rb") as f:
        catalog = read_po(f)
    ids = [str(m.id) for m in catalog if m.id]
    assert ids == sorted(ids), f"{language}: messages out of order"
    return {str(m.id): str(m.string) for m in catalog if m.id}


@pytest.mark.parametrize("language", sorted(set(LANGUAGES) - {"en"}))
def test_catalogues_hold_the_same_messages_all_translated_and_sorted(language: str) -> None:
    english, translated = _messages("en"), _messages(language)
    assert set(translated) == set(english)
    assert [m for m, text in translated.items() if not text] == []
