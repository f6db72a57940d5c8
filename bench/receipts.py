"""Benchmark: a 20-line sale receipt to ESC/POS bytes and to a PNG (targets 50 ms and 200 ms).

Run: .venv/bin/python bench/receipts.py   (prints JSON)
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime

from terminal.config import PrinterSection
from terminal.printer.escpos_render import EscposRenderer
from terminal.printer.language import ReceiptLanguage
from terminal.printer.layout import layout_receipt, paper_for
from terminal.printer.png_render import png_bytes, render_layout
from terminal.printer.receipt import Header, SaleItem, SaleReceipt

ROUNDS = 30


def sale(lines: int, lang: str) -> SaleReceipt:
    name = {"zh": "商品", "tr": "Ürün", "bg": "Продукт"}.get(lang, "Product")
    items = tuple(
        SaleItem(sku=f"P{i}", name=f"{name} {i}", qty=1 + i % 3, unit_price=150 + 25 * i) for i in range(lines)
    )
    total = sum(i.total for i in items)
    return SaleReceipt(
        header=Header(vendor="Bench Stall", terminal_id=3, operator="anna", event="Bench"),
        time=datetime(2026, 7, 18, 12, 0, tzinfo=UTC), currency="EUR", transaction="3-1", card="****E5F6",
        items=items, total=total, paid_from_card=total, balance_after=10_000,
    )


def timed(fn) -> dict[str, float]:
    fn()  # warm caches (code page tables, glyphs), as on a running terminal
    runs = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(runs), 2), "max_ms": round(max(runs), 2)}


def main() -> None:
    results = {}
    for lang, width in (("en", 80), ("tr", 58), ("zh", 58)):
        settings = PrinterSection(width=width, qr_url="https://pay.example/r/{transaction}")
        paper = paper_for(settings)
        language = ReceiptLanguage(lang, "UTC")
        receipt = sale(20, lang)
        renderer = EscposRenderer(paper)

        def layout(receipt=receipt, paper=paper, language=language, settings=settings):
            return layout_receipt(receipt, paper, language, qr_url=settings.qr_url)

        results[f"{lang}_{width}mm"] = {
            "escpos": timed(lambda layout=layout, renderer=renderer: renderer.render(layout())),
            "png": timed(lambda layout=layout: png_bytes(render_layout(layout()))),
            "escpos_bytes": len(renderer.render(layout())),
        }
    results["targets_ms"] = {"escpos": 50, "png": 200}
    results["rounds"] = ROUNDS
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
