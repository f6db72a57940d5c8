from __future__ import annotations

import pytest

from terminal.config import PrinterSection
from terminal.printer.escpos_render import EscposRenderer
from terminal.printer.language import ReceiptLanguage
from terminal.printer.layout import layout_receipt, paper_for
from terminal.printer.receipt import KINDS
from terminal.printer.samples import samples
from tests.printer.escpos_reader import decode

EXPECTED = {
    "sale": ["SALE", "Lemonade", "2 x €3.50", "€7.00", "TOTAL", "€15.50", "Paid from card", "Balance after",
             "€34.50", "Transaction", "3-42", "****E5F6", "Operator", "anna", "Sample Stall", "Thank you!"],
    "topup": ["TOP-UP", "Loaded", "€20.00", "Method", "cash", "Balance now", "€54.50", "Spent so far", "€45.50"],
    "void": ["VOID", "Cancels transaction", "3-42", "Returned to card", "€15.50", "Balance after", "€70.00"],
    "refund": ["REFUND", "Balance before", "Refunded", "€70.00", "Card closed", "€0.00"],
    "statement": ["CARD STATEMENT", "Holder", "+90 555 0100",
                  "Balance", "€43.00", "#2 top-up", "+€50.00", "#4 sale", "-€15.50", "#5 void"],
    "day": ["END OF DAY", "Sales", "3  €29.00", "Voids", "1  -€11.50", "Net sales", "€17.50",
            "Top-ups", "2  €70.00", "Refunds", "1  €9.50", "By product", "3 x Ice cream", "€10.50",
            "Top-ups by method", "1 x cash", "€50.00", "Expected cash in drawer", "Operator: anna", "3-1", "3-9"],
}


def render(kind: str, lang: str = "en", **settings) -> tuple[bytes, str]:
    s = PrinterSection(**settings)
    paper = paper_for(s)
    layout = layout_receipt(samples(kind, locale=lang), paper, ReceiptLanguage(lang, "UTC"), copies=s.copies,
                            qr_url=s.qr_url)
    return EscposRenderer(paper, s.text).render(layout), paper.profile


def contains_in_order(lines: list[str], expected: list[str]) -> None:
    text = "\n".join(lines)
    for word in expected:
        assert word in text, f"{word!r} missing from:\n{text}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("width", [58, 80])
def test_each_kind_decodes_to_its_content_and_ends_with_a_cut(kind: str, width: int) -> None:
    data, profile = render(kind, width=width)
    out = decode(data, profile)
    contains_in_order(out.text, EXPECTED[kind])
    assert data.startswith(b"\x1b@")
    assert out.cuts == 1 and out.events[-1] == "cut"
    assert not out.images, "English needs no image"
    assert max(len(line) for line in out.text) <= (32 if width == 58 else 48)


def test_big_and_bold_lines_are_marked() -> None:
    out = decode(*render("sale", width=80))
    assert any(line.startswith("TOTAL") and line.endswith("€15.50") for line in out.big_lines)
    assert "Sample Stall" in out.big_lines
    assert any(line.startswith("Balance after") for line in out.bold_lines)
    assert not any(line.startswith("Paid from card") for line in out.bold_lines)


def test_two_copies_are_labelled_and_cut_separately() -> None:
    out = decode(*render("sale", width=80, copies=2))
    assert out.cuts == 2
    text = out.text
    assert text.index("Merchant copy".center(48).rstrip()) < text.index("Customer copy".center(48).rstrip())
    assert sum("TOTAL" in line for line in text) == 2


def test_day_report_has_one_copy_even_when_two_are_configured() -> None:
    out = decode(*render("day", width=80, copies=2))
    assert out.cuts == 1


def test_turkish_uses_a_turkish_code_page_where_the_profile_has_one() -> None:
    data, profile = render("topup", "tr", width=80, profile="TM-T20II")
    out = decode(data, profile)
    contains_in_order(out.text, ["YÜKLEME", "Yüklenen", "Güncel bakiye", "Şimdiye kadar harcanan", "nakit"])
    assert {"CP857", "CP1254"} & set(out.codepages)
    assert not out.images


def test_turkish_on_a_cp437_only_printer_is_printed_as_images() -> None:
    data, profile = render("topup", "tr", width=80, profile="simple")
    out = decode(data, profile)
    assert out.images, "lines with ş/ğ/İ must become images"
    assert "?" not in "".join(out.text)
    assert any("Terminal" in line for line in out.text)  # plain ASCII lines stay text


def test_bulgarian_prints_in_a_cyrillic_code_page() -> None:
    data, profile = render("sale", "bg", width=58)
    out = decode(data, profile)
    contains_in_order(out.text, ["ПРОДАЖБА", "Лимонада", "ОБЩО", "15,50 €", "Платено с карта", "Благодарим ви!"])
    assert {"CP866", "CP1251", "CP855"} & set(out.codepages)


def test_chinese_lines_are_images_and_never_raw_gb18030() -> None:
    data, profile = render("sale", "zh", width=58)
    out = decode(data, profile)
    assert len(out.images) >= 8
    assert all(w == 384 for w, _ in out.images)
    assert "销售".encode("gb18030") not in data
    assert any("****E5F6" in line for line in out.text) is False  # the card line has 卡号 -> image
    assert any(line.strip() == "-" * 32 for line in out.text)


def test_codepage_mode_never_sends_images() -> None:
    data, profile = render("sale", "zh", width=58, text="codepage")
    out = decode(data, profile)
    assert not out.images
    assert any("??" in line for line in out.text)


def test_image_mode_sends_every_text_line_as_an_image() -> None:
    data, profile = render("sale", "en", width=80, text="image")
    out = decode(data, profile)
    assert len(out.images) > 15
    assert all(not line.strip() for line in out.text)


def test_qr_code_is_native_where_supported_and_an_image_otherwise() -> None:
    data, profile = render("sale", width=80, profile="TM-T20II", qr_url="https://pay.example/r/{transaction}")
    assert decode(data, profile).qr == ["https://pay.example/r/3-42"]
    data, profile = render("sale", width=58, profile="POS-5890", qr_url="https://pay.example/r/{transaction}")
    out = decode(data, profile)
    assert not out.qr and "image" in out.events


def test_bad_profile_and_qr_template_are_refused_clearly() -> None:
    from pydantic import ValidationError

    from terminal.printer.layout import LayoutError

    with pytest.raises(LayoutError, match="unknown printer profile"):
        paper_for(PrinterSection(profile="NoSuchPrinter"))
    with pytest.raises(ValidationError, match="unknown field"):
        PrinterSection(qr_url="https://x/{secret}")
