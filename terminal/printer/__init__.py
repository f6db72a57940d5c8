"""Receipts: model, layout, ESC/POS and PNG rendering, printer transports, print queue, day report.

Exports are resolved on first use, so that importing one light module of the
printer does not load python-escpos and Pillow.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "day_report": "day_report",
    "EscposRenderer": "escpos_render",
    "ReceiptDataError": "journal_receipts",
    "refund_receipt": "journal_receipts",
    "sale_receipt": "journal_receipts",
    "statement_receipt": "journal_receipts",
    "topup_receipt": "journal_receipts",
    "void_receipt": "journal_receipts",
    "ReceiptLanguage": "language",
    "Layout": "layout",
    "Paper": "layout",
    "layout_receipt": "layout",
    "paper_for": "layout",
    "png_bytes": "png_render",
    "render_layout": "png_render",
    "Job": "print_queue",
    "PrinterEvent": "print_queue",
    "PrintQueue": "print_queue",
    "KINDS": "receipt",
    "DayReport": "receipt",
    "Header": "receipt",
    "Receipt": "receipt",
    "RefundReceipt": "receipt",
    "SaleItem": "receipt",
    "SaleReceipt": "receipt",
    "StatementReceipt": "receipt",
    "TopUpReceipt": "receipt",
    "VoidReceipt": "receipt",
    "ReceiptPrinter": "receipt_printer",
    "PrinterUrlError": "target",
    "open_target": "target",
    "PrinterNotReady": "transport",
    "PrinterProblem": "transport",
    "PrinterStatus": "transport",
    "PrinterUnavailable": "transport",
    "Transport": "transport",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'terminal.printer' has no attribute {name!r}")
    return getattr(import_module(f"terminal.printer.{_EXPORTS[name]}"), name)
