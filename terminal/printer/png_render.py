"""Draw a layout as an image: the PNG preview, and ESC/POS lines the printer has no code page for.

Text is drawn on the printer's own grid (font A cells, 12x24 dots at 203 dpi),
one character per cell and two for wide ones, so the picture matches what
the printer prints in text mode.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw

from terminal.printer.fonts import font, has_glyph
from terminal.printer.layout import Cut, Layout, Logo, Paper, Qr, TextLine, char_width

LINE_HEIGHT = 24  # font A on common thermal printers: 12 x 24 dots
CUT_FEED = 3  # blank lines drawn before a cut (the printer feeds too)
QR_MODULE = 4


class ImageError(ValueError):
    """A logo that cannot be read or drawn."""


@lru_cache(maxsize=8192)
def _glyph(ch: str, cell: int, height: int, bold: bool) -> tuple[Image.Image, int, int]:
    """A glyph mask centred in its cell(s), with its offset."""
    wide = char_width(ch) == 2
    use_cjk = wide or not has_glyph("mono", ch)
    f = font("cjk", int(height * 0.92)) if use_cjk else font("mono-bold" if bold else "mono", int(height * 0.84))
    box_w = cell * (2 if wide else 1)
    left, _top, right, _bottom = f.getbbox(ch)
    mask = Image.new("L", (box_w, height), 0)
    draw = ImageDraw.Draw(mask)
    ascent, descent = f.getmetrics()
    y = (height - (ascent + descent)) // 2
    x = (box_w - (right - left)) // 2 - left
    draw.text((x, y), ch, fill=255, font=f)
    if bold and use_cjk:  # the CJK font has no bold face: draw it twice
        draw.text((x + 1, y), ch, fill=255, font=f)
    return mask, box_w, 0


def render_line(line: TextLine, paper: Paper) -> Image.Image:
    """One text line as a black-on-white 'L' image, as wide as the paper."""
    scale = 2 if line.big else 1
    cell, height = paper.cell * scale, LINE_HEIGHT * scale
    img = Image.new("L", (paper.dots, height), 255)
    x = 0
    for ch in line.text:
        width = char_width(ch)
        if width == 0:
            continue
        if ch != " ":
            mask, _, _ = _glyph(ch, cell, height, line.bold)
            img.paste(0, (x, 0, x + mask.width, height), mask)
        x += cell * width
    return img


def qr_image(data: str, max_width: int) -> Image.Image:
    code = qrcode.QRCode(border=2, box_size=QR_MODULE, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    img = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
    if img.width > max_width:
        img = img.resize((max_width, max_width), Image.Resampling.NEAREST)
    return img


def logo_image(path: Path, max_width: int) -> Image.Image:
    try:
        with Image.open(path) as src:
            img = src.convert("RGBA")
    except (OSError, ValueError) as exc:
        raise ImageError(f"logo {path}: cannot read image: {exc}") from None
    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
    img = Image.alpha_composite(background, img).convert("L")
    if img.width > max_width:
        img = img.resize((max_width, max(1, img.height * max_width // img.width)), Image.Resampling.LANCZOS)
    return img.convert("1").convert("L")  # dithered like the printer will


def centered(img: Image.Image, width: int) -> Image.Image:
    out = Image.new("L", (width, img.height), 255)
    out.paste(img, ((width - img.width) // 2, 0))
    return out


def render_layout(layout: Layout) -> Image.Image:
    """The whole receipt as one greyscale image; cuts shown as a dashed grey line."""
    paper = layout.paper
    parts: list[Image.Image] = []
    for block in layout.blocks:
        if isinstance(block, TextLine):
            parts.append(render_line(block, paper))
        elif isinstance(block, Logo):
            parts.append(centered(logo_image(block.path, paper.dots // 2), paper.dots))
        elif isinstance(block, Qr):
            parts.append(centered(qr_image(block.data, paper.dots * 2 // 3), paper.dots))
        elif isinstance(block, Cut):
            feed = Image.new("L", (paper.dots, LINE_HEIGHT * CUT_FEED), 255)
            draw = ImageDraw.Draw(feed)
            y = feed.height - 2
            for x in range(0, paper.dots, 12):
                draw.line((x, y, x + 6, y), fill=128, width=1)
            parts.append(feed)
    height = sum(p.height for p in parts) + 16
    out = Image.new("L", (paper.dots, height), 255)
    y = 8
    for part in parts:
        out.paste(part, (0, y))
        y += part.height
    return out


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
