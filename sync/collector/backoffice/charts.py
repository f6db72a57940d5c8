"""Charts as inline SVG drawn on the server: no script, no CDN, readable labels with money in major units."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

Label = Callable[[int], str]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def text_width(text: str, size: int = 12) -> int:
    """About how wide `text` is drawn at `size` px: wide (CJK) characters count twice as much as Latin ones."""
    return int(sum(size if ord(c) >= 0x2E80 else size * 0.62 for c in text)) + 4


def bars(labels: Sequence[str], values: Sequence[int], fmt: Label, *, width: int = 560, row: int = 24,
         label_width: int = 150, title: str = "") -> str:
    """Horizontal bars, a label on the left and the formatted value after each bar.

    The label column and the space after the longest bar grow to fit the longest label and value, so neither is
    ever cut ("€22.50", not "22"); the bars take what is left of `width` (the stylesheet's largest chart width,
    so text is drawn at its size), or 200 px and a wider drawing that scales down.
    """
    top = max([abs(v) for v in values] + [1])
    texts = [fmt(v) for v in values]
    label_width = max([label_width] + [text_width(t) + 6 for t in labels])
    value_width = max([60] + [text_width(t) + 8 for t in texts])
    span = max(width - label_width - value_width, 200)  # the bars give way to long labels, down to 200 px
    width = label_width + span + value_width
    height = row * len(values) + 8
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{_esc(title)}">']
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        y = 4 + i * row
        w = max(1, int(span * abs(value) / top))
        out.append(f'<text x="{label_width - 6}" y="{y + row - 9}" text-anchor="end" font-size="12">'
                   f'{_esc(label)}</text>'
                   f'<rect x="{label_width}" y="{y + 3}" width="{w}" height="{row - 8}" rx="2" '
                   f'fill="{"#c0392b" if value < 0 else "#2e6fbd"}"/>'
                   f'<text x="{label_width + w + 6}" y="{y + row - 9}" font-size="12">{_esc(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def columns(labels: Sequence[str], values: Sequence[int], fmt: Label, *, width: int = 760, height: int = 220,
            title: str = "") -> str:
    """Vertical columns over time (e.g. sales per hour): the peak's value and every few labels are written out."""
    n = max(len(values), 1)
    top = max([abs(v) for v in values] + [1])
    left, bottom = 70, 40
    plot_w, plot_h = width - left - 10, height - bottom - 20
    step = plot_w / n
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{_esc(title)}">',
           f'<line x1="{left}" y1="{20 + plot_h}" x2="{width - 10}" y2="{20 + plot_h}" stroke="#888"/>',
           f'<text x="{left - 6}" y="24" text-anchor="end" font-size="11">{_esc(fmt(top))}</text>',
           f'<text x="{left - 6}" y="{20 + plot_h}" text-anchor="end" font-size="11">0</text>']
    every = max(1, n // 8)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = int(plot_h * abs(value) / top)
        x = left + i * step
        out.append(f'<rect x="{x + 1:.1f}" y="{20 + plot_h - h}" width="{max(step - 2, 1):.1f}" height="{h}" '
                   f'fill="#2e6fbd"><title>{_esc(label)}: {_esc(fmt(value))}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{x + step / 2:.1f}" y="{height - 22}" text-anchor="middle" font-size="11">'
                       f'{_esc(label)}</text>')
    out.append("</svg>")
    return "".join(out)
