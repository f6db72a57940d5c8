"""Layout -> ESC/POS bytes through python-escpos, for one printer profile.

Text goes out in the printer's code pages (python-escpos' magic encoder picks
them from the profile); a line with a character no code page of the profile
has (Chinese on most printers, Turkish on a CP437-only one) is sent as a
raster image drawn by the PNG renderer, so it still prints correctly.
"""

from __future__ import annotations

from typing import Literal

from escpos.constants import GS, PAPER_FULL_CUT
from escpos.image import EscposImage
from escpos.printer import Dummy
from PIL import Image

from terminal.printer.layout import Cut, Layout, Logo, Paper, Qr, TextLine
from terminal.printer.png_render import centered, logo_image, qr_image, render_line

TextMode = Literal["auto", "codepage", "image"]
INIT = b"\x1b@"


class EscposRenderer:
    """Renders layouts for one profile; keeps the code page tables it has built."""

    def __init__(self, paper: Paper, text_mode: TextMode = "auto") -> None:
        self.paper = paper
        self.text_mode = text_mode
        self._probe = Dummy(profile=paper.profile)
        self._encoder = self._probe.magic.encoder
        self._pages = [name for name in self._encoder.codepages if name != "Unknown"]
        self._printable: dict[str, bool] = {}
        self.qr_native = bool(self._probe.profile.supports("qrCode"))

    def printable(self, ch: str) -> bool:
        """True when one of the profile's code pages has this character."""
        if ord(ch) < 128:
            return True
        known = self._printable.get(ch)
        if known is None:
            known = any(self._encoder.can_encode(page, ch) for page in self._pages)
            self._printable[ch] = known
        return known

    def as_image(self, text: str) -> bool:
        if self.text_mode == "image":
            return bool(text.strip())
        if self.text_mode == "codepage":
            return False
        return not all(self.printable(c) for c in text)

    def render(self, layout: Layout) -> bytes:
        p = Dummy(profile=self.paper.profile)
        p._raw(INIT)
        bold = big = False
        for block in layout.blocks:
            if isinstance(block, TextLine):
                if self.as_image(block.text):
                    self._raster(p, render_line(block, self.paper))
                    continue
                if block.bold != bold:
                    p.set(bold=block.bold)
                    bold = block.bold
                if block.big != big:
                    p.set(double_width=block.big, double_height=block.big, normal_textsize=not block.big)
                    big = block.big
                text = block.text.rstrip()
                p.textln(_printable_cjk(text) if self.text_mode == "codepage" else text)
            elif isinstance(block, Logo):
                self._raster(p, centered(logo_image(block.path, self.paper.dots // 2), self.paper.dots))
            elif isinstance(block, Qr):
                self._qr(p, block.data)
            elif isinstance(block, Cut):
                if bold or big:
                    p.set(bold=False, normal_textsize=True)
                    bold = big = False
                p.cut()
                if not (self._probe.profile.supports("paperFullCut") or self._probe.profile.supports("paperPartCut")):
                    # python-escpos only feeds for a profile without a cutter; printers without one
                    # ignore GS V, and those the profile does not know about do cut.
                    p._raw(PAPER_FULL_CUT)
        return p.output

    def _qr(self, p: Dummy, data: str) -> None:
        if self.qr_native:
            p.set(align="center")
            p.qr(data, size=6, native=True)
            p.set(align="left")
        else:
            self._raster(p, centered(qr_image(data, self.paper.dots * 2 // 3), self.paper.dots))

    @staticmethod
    def _raster(p: Dummy, img: Image.Image) -> None:
        """GS v 0 raster image: supported by every profile, unlike GS ( L."""
        mono = img.point(lambda v: 0 if v < 128 else 255, mode="1")
        im = EscposImage(mono)
        width, height = im.width_bytes, im.height
        p._raw(
            GS + b"v0\x00" + bytes((width & 0xFF, width >> 8, height & 0xFF, height >> 8)) + im.to_raster_format()
        )


def _printable_cjk(text: str) -> str:
    """In 'codepage' mode python-escpos would send Chinese as raw GB18030; use '?' like other gaps."""
    return "".join("?" if ord(c) >= 0x2E80 else c for c in text)
