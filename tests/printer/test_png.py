from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from terminal.config import PrinterSection
from terminal.printer.language import ReceiptLanguage
from terminal.printer.layout import TextLine, layout_receipt, paper_for
from terminal.printer.png_render import LINE_HEIGHT, png_bytes, render_layout, render_line
from terminal.printer.receipt import KINDS
from terminal.printer.samples import samples


def ink(img: Image.Image) -> int:
    return sum(img.convert("L").histogram()[:128])


@pytest.mark.parametrize("lang", ["en", "tr", "bg", "zh"])
@pytest.mark.parametrize("kind", KINDS)
def test_preview_of_each_kind_and_language(kind: str, lang: str, artifacts) -> None:
    width = 58 if lang in ("bg", "zh") else 80
    s = PrinterSection(width=width, qr_url="https://pay.example/r/{transaction}")
    paper = paper_for(s)
    layout = layout_receipt(samples(kind, locale=lang), paper, ReceiptLanguage(lang, "UTC"), qr_url=s.qr_url)
    img = render_layout(layout)
    data = png_bytes(img)
    (artifacts / f"{kind}-{lang}-{width}mm.png").write_bytes(data)
    reread = Image.open(io.BytesIO(data))
    assert reread.width == (384 if width == 58 else 576)
    text_lines = len(layout.text())
    assert reread.height >= text_lines * LINE_HEIGHT
    # every non-empty text line leaves ink where the layout says it is
    y = 8
    for block in layout.blocks:
        if isinstance(block, TextLine):
            h = LINE_HEIGHT * (2 if block.big else 1)
            band = reread.crop((0, y, reread.width, y + h))
            assert (ink(band) > 0) == bool(block.text.strip()), block.text
            y += h
        else:
            break


def test_preview_draws_the_same_line_the_printer_gets_as_an_image() -> None:
    paper = paper_for(PrinterSection(width=58))
    line = TextLine("合计      ¥15.08", bold=True, big=True)
    a, b = render_line(line, paper), render_line(line, paper)
    assert a.size == (384, 48)
    assert ImageChops.difference(a, b).getbbox() is None
    left, right = a.crop((0, 0, 96, 48)), a.crop((300, 0, 384, 48))
    assert ink(left) > 50 and ink(right) > 50  # both the characters and the amount are drawn


def test_chinese_characters_are_drawn_not_boxes() -> None:
    paper = paper_for(PrinterSection(width=58))
    glyphs = [render_line(TextLine(ch), paper).crop((0, 0, 24, 24)) for ch in "合计余额"]
    assert all(ink(g) > 20 for g in glyphs)
    assert len({g.tobytes() for g in glyphs}) == 4  # a missing-glyph box would look the same each time


def test_a_bad_logo_is_reported() -> None:
    from terminal.printer.png_render import ImageError, logo_image

    with pytest.raises(ImageError, match="cannot read image"):
        logo_image(__import__("pathlib").Path(__file__), 100)
