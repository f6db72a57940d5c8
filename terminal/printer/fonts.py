"""Fonts for drawing receipt text: a monospace one, and a CJK one for Chinese.

DejaVu Sans Mono (fonts-dejavu-core) covers Latin, Turkish and Cyrillic;
WenQuanYi Zen Hei (fonts-wqy-zenhei) covers Chinese. Both are Debian packages
listed in scripts/system-packages.txt.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"), Path("/usr/local/share/fonts"))
MONO = ("dejavu/DejaVuSansMono.ttf",)
MONO_BOLD = ("dejavu/DejaVuSansMono-Bold.ttf",)
CJK = ("wqy/wqy-zenhei.ttc", "noto-cjk/NotoSansCJK-Regular.ttc", "noto/NotoSansCJK-Regular.ttc")


class FontMissing(RuntimeError):
    """A font needed to draw a receipt is not installed."""


def _find(candidates: tuple[str, ...], package: str) -> Path:
    for folder in FONT_DIRS:
        for name in candidates:
            if (folder / name).exists():
                return folder / name
    raise FontMissing(f"font {candidates[0]} not found: install the Debian package {package}")


@lru_cache(maxsize=32)
def font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    """kind: 'mono', 'mono-bold' or 'cjk'."""
    if kind == "cjk":
        return ImageFont.truetype(str(_find(CJK, "fonts-wqy-zenhei")), size)
    path = _find(MONO_BOLD if kind == "mono-bold" else MONO, "fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)


@lru_cache(maxsize=4096)
def has_glyph(kind: str, ch: str) -> bool:
    f = font(kind, 20)
    try:
        return f.getmask(ch).getbbox() is not None or ch.isspace()
    except Exception:
        return False
