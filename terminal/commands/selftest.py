"""`stallpay selftest`: every part of this terminal checked, a pass / fail table, non-zero exit on failure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from terminal.config import ConfigError, load_config

DEFAULT_CONFIG = Path("/etc/stallpay/terminal.toml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selftest", help="check reader, printer, camera, LEDs, clock, disk, keys, collector")
    p.add_argument("--config", type=Path, default=None,
                   help=f"terminal.toml (default: {DEFAULT_CONFIG} if it exists, else ./terminal.toml)")
    p.add_argument("--json", action="store_true", help="JSON on stdout instead of the table")
    p.add_argument("--no-card", action="store_true", help="only check the reader is there, do not ask for a card")
    p.add_argument("--card-timeout", type=float, default=10.0, help="seconds to wait for a card (default 10)")
    p.add_argument("--no-print", action="store_true", help="check the printer's status without printing a page")
    p.add_argument("--collector", help="collector URL (default: from collector.env)")
    p.add_argument("--only", action="append", default=[], metavar="CHECK", help="run only this check (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from terminal.selftest import SelftestOptions, as_dict, passed, run_selftest, table

    path = args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else Path("terminal.toml"))
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"stallpay selftest: {exc}", file=sys.stderr)
        return 2
    if args.card_timeout <= 0:
        print("stallpay selftest: --card-timeout must be positive", file=sys.stderr)
        return 2
    options = SelftestOptions(card_timeout_s=args.card_timeout, card=not args.no_card, print_page=not args.no_print,
                              collector_url=args.collector, only=tuple(args.only))
    try:
        results = run_selftest(config, options)
    except ValueError as exc:
        print(f"stallpay selftest: {exc}", file=sys.stderr)
        return 2
    from terminal.uplink.device_report import record_selftest

    try:
        record_selftest(config.data_dir, as_dict(results))  # the next upload tells the collector
    except OSError as exc:
        print(f"stallpay selftest: cannot record the result: {exc.strerror}", file=sys.stderr)
    if args.json:
        print(json.dumps(as_dict(results), indent=1))
    else:
        print(table(results))
    if not passed(results):
        failed = ", ".join(r.name for r in results if r.result == "fail")
        print(f"stallpay selftest: failed: {failed}", file=sys.stderr)
        return 1
    return 0
