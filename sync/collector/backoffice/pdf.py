"""Reports as PDF (fpdf2): a title, a line of context, and a table; Unicode fonts for names in any language."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/wqy"))


def _fonts(pdf: FPDF, cjk: bool) -> str:
    """DejaVu (Latin, Cyrillic, Turkish) with WenQuanYi as fallback for Chinese; core Helvetica without them."""
    dejavu = FONT_DIRS[0] / "DejaVuSans.ttf"
    if not dejavu.exists():
        return "helvetica"
    pdf.add_font("dejavu", "", str(dejavu))
    pdf.add_font("dejavu", "B", str(FONT_DIRS[0] / "DejaVuSans-Bold.ttf"))
    wqy = FONT_DIRS[1] / "wqy-zenhei.ttc"
    if cjk and wqy.exists():  # a large font: loaded only for Chinese pages
        pdf.add_font("wqy", "", str(wqy))
        pdf.set_fallback_fonts(["wqy"])
    return "dejavu"


def table_pdf(title: str, context: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
              *, right_aligned: Sequence[int] = (), footer: str = "", cjk: bool = False) -> bytes:
    pdf = FPDF(orientation="L" if len(headers) > 5 else "P", format="A4")
    pdf.set_auto_page_break(True, margin=15)
    font = _fonts(pdf, cjk)
    pdf.add_page()
    pdf.set_font(font, "B", 16)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "", 10)
    pdf.multi_cell(0, 6, context, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(font, "", 9)
    if headers:
        align = tuple("RIGHT" if i in right_aligned else "LEFT" for i in range(len(headers)))
        with pdf.table(text_align=align, first_row_as_headings=True) as table:
            table.row(list(headers))
            for r in rows:
                table.row([str(v) for v in r])
    if footer:
        pdf.ln(4)
        pdf.set_font(font, "B", 10)
        pdf.multi_cell(0, 6, footer)
    return bytes(pdf.output())
