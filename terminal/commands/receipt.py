"""`stallpay receipt sample KIND --printer URL`: the technician's printer check.

Prints a sample receipt of one kind (or all) straight to the given printer and
says plainly what went wrong when it does not print.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

KINDS = ("sale", "topup", "void", "refund", "statement", "day")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("receipt", help="receipts: print samples to check a printer")
    sub = parser.add_subparsers(dest="receipt_command", metavar="ACTION")
    sub.required = True
    sample = sub.add_parser("sample", help="print a sample receipt of a kind (or 'all') to a printer")
    sample.add_argument("kind", choices=(*KINDS, "all"), metavar="KIND", help=f"one of {', '.join(KINDS)} or all")
    sample.add_argument(
        "--printer",
        required=True,
        metavar="URL",
        help="tcp://HOST:PORT, usb://VID:PID, serial:///dev/ttyX, file:///dev/usb/lp0 or png:PATH",
    )
    sample.add_argument("--width", type=int, choices=(58, 80), default=None, help="paper width in mm")
    sample.add_argument("--profile", default=None, help="python-escpos printer profile, e.g. TM-T20II, POS-5890")
    sample.add_argument("--lang", default="en", help="receipt language: en, tr, bg, zh (default en)")
    sample.add_argument("--currency", default="EUR")
    sample.add_argument("--copies", type=int, choices=(1, 2), default=None)
    sample.add_argument("--qr", default=None, metavar="TEMPLATE", help="QR link template, e.g. https://x/r/{transaction}")
    sample.add_argument("--text", choices=("auto", "codepage", "image"), default=None, help="how text is sent")
    sample.add_argument("--config", type=Path, default=None, help="take the [printer] section from this config")
    sample.set_defaults(func=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    import logging

    from pydantic import ValidationError

    from terminal.config import ConfigError, PrinterSection, load_config
    from terminal.printer.layout import LayoutError
    from terminal.printer.receipt_printer import ReceiptPrinter
    from terminal.printer.samples import samples
    from terminal.printer.target import PrinterUrlError, open_target

    try:
        base = load_config(args.config).printer if args.config else PrinterSection()
        overrides = {
            k: v
            for k, v in {
                "url": args.printer, "width": args.width, "profile": args.profile, "copies": args.copies,
                "qr_url": args.qr, "text": args.text,
            }.items()
            if v is not None
        }
        settings = PrinterSection.model_validate({**base.model_dump(), **overrides})
        transport = open_target(settings.url)
    except (ConfigError, PrinterUrlError) as exc:
        print(f"stallpay receipt: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"stallpay receipt: {'.'.join(map(str, first['loc']))}: {first['msg']}", file=sys.stderr)
        return 2
    logging.getLogger("terminal.printer.print_queue").setLevel(logging.ERROR)  # the reason is printed below
    kinds = KINDS if args.kind == "all" else (args.kind,)
    with tempfile.TemporaryDirectory(prefix="stallpay-receipt-") as tmp:
        try:
            printer = ReceiptPrinter(settings, locale=args.lang, data_dir=Path(tmp), transport=transport)
        except LayoutError as exc:
            print(f"stallpay receipt: {exc}", file=sys.stderr)
            return 2
        try:
            for kind in kinds:
                printer.queue.submit(kind, printer.render(samples(kind, locale=args.lang, currency=args.currency)))
            for _ in kinds:
                if not printer.queue.print_one():
                    problem = printer.queue.problem
                    reason = problem.detail if problem else "unknown printer problem"
                    print(f"stallpay receipt: not printed: {reason}", file=sys.stderr)
                    return 3  # the exit-code table's DEVICE
        finally:
            printer.queue.close()
    print(f"printed {len(kinds)} sample receipt(s) to {transport.describe()}")
    return 0
