"""Receipts to paper: settings -> layout -> bytes (or PNG) -> print queue.

What the terminal application uses; it never waits for the printer.
"""

from __future__ import annotations

from pathlib import Path

from terminal.config import PrinterSection
from terminal.printer.escpos_render import EscposRenderer
from terminal.printer.language import ReceiptLanguage
from terminal.printer.layout import CUSTOMER_KINDS, Layout, layout_receipt, paper_for
from terminal.printer.png_render import png_bytes, render_layout
from terminal.printer.print_queue import PrintQueue
from terminal.printer.receipt import Receipt
from terminal.printer.target import open_target
from terminal.printer.transport import Transport

ALWAYS_PRINTED = ("topup", "refund", "statement", "day")  # the seeds: a top-up always prints


class ReceiptPrinter:
    def __init__(
        self,
        settings: PrinterSection,
        *,
        locale: str = "en",
        event_id: str = "",
        data_dir: Path | None = None,
        transport: Transport | None = None,
        retry_delays: tuple[float, ...] = (2, 5, 10, 30, 60),
    ) -> None:
        self.settings = settings
        self.paper = paper_for(settings)
        self.language = ReceiptLanguage(locale, settings.timezone or None)
        self.event_id = event_id
        data_dir = Path(data_dir or ".")
        if transport is None:
            transport = open_target(settings.url or f"png:{data_dir / 'receipts'}")
        self.transport = transport
        self.renderer = EscposRenderer(self.paper, settings.text)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.queue = PrintQueue(
            data_dir / "printqueue.db", transport, check_status=settings.status, retry_delays=retry_delays
        )

    def layout(self, receipt: Receipt) -> Layout:
        return layout_receipt(
            receipt,
            self.paper,
            self.language,
            copies=self.settings.copies,
            qr_url=self.settings.qr_url,
            logo=self.settings.logo,
            event_id=self.event_id,
        )

    def render(self, receipt: Receipt) -> bytes:
        """Bytes in the transport's format: ESC/POS, or a PNG for the preview backend."""
        layout = self.layout(receipt)
        if self.transport.format == "png":
            return png_bytes(render_layout(layout))
        return self.renderer.render(layout)

    def wanted(self, receipt: Receipt, requested: bool = False) -> bool:
        return (
            requested
            or self.settings.receipt == "always"
            or receipt.kind in ALWAYS_PRINTED
            or receipt.kind not in CUSTOMER_KINDS
        )

    def print(self, receipt: Receipt, *, requested: bool = False) -> int | None:
        """Queue the receipt (if configuration or the guest wants one); returns the job id."""
        if not self.wanted(receipt, requested):
            return None
        label = receipt.kind + (f"-{receipt.transaction}" if getattr(receipt, "transaction", "") else "")
        return self.queue.submit(receipt.kind, self.render(receipt), label=label)
