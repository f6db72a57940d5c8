from __future__ import annotations

from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from terminal.i18n import LOCALE_DIR, catalogue_name, translations
from terminal.printer.language import ReceiptLanguage

LANGS = ("en", "tr", "bg", "zh_CN")


@pytest.mark.parametrize(("tag", "name"), [("zh-Hans-CN", "zh_CN"), ("zh_CN", "zh_CN"), ("zh", "zh_CN"),
                                           ("tr_TR", "tr"), ("bg", "bg"), ("de", "en"), ("??", "en")])
def test_ui_language_tags_map_to_catalogues(tag: str, name: str) -> None:
    assert catalogue_name(tag) == name


@pytest.mark.parametrize("lang", LANGS)
def test_catalogues_are_complete_and_sorted(lang: str) -> None:
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "stallpay.po", "rb") as f:
        catalog = read_po(f)
    ids = [m.id for m in catalog if m.id]
    assert ids == sorted(ids)
    with open(LOCALE_DIR / "en" / "LC_MESSAGES" / "stallpay.po", "rb") as f:
        english = {m.id for m in read_po(f) if m.id}
    assert english <= set(ids)
    assert all(m.string for m in catalog if m.id)


def test_words_money_and_dates_follow_the_language() -> None:
    moment = datetime(2026, 7, 18, 14, 5, tzinfo=UTC)
    tr = ReceiptLanguage("tr", "Europe/Istanbul")
    assert tr("Balance now") == "Güncel bakiye" and tr.money(1250, "TRY") == "₺12,50"
    assert tr.when(moment) == "18 Tem 2026 17:05:00"
    bg = ReceiptLanguage("bg", "Europe/Sofia")
    assert bg("TOTAL") == "ОБЩО" and bg.money(-1250, "BGN") == "-12,50 лв."
    zh = ReceiptLanguage("zh-CN", "Asia/Shanghai")
    assert zh("Thank you!") == "谢谢惠顾！" and zh.money(1250, "CNY") == "¥12.50"
    assert zh.when(moment).startswith("2026年7月18日")
    assert ReceiptLanguage("en", "UTC").money(500, "EUR", signed=True) == "+€5.00"


def test_a_broken_catalogue_is_reported(tmp_path) -> None:
    from terminal.i18n import LanguageError

    folder = tmp_path / "tr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "stallpay.po").write_text('msgid "x"\nmsgstr "y"\nnot a po line\n', encoding="utf-8")
    with pytest.raises(LanguageError, match="cannot read catalogue"):
        translations("tr", tmp_path)
