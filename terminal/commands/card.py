"""`stallpay card read|issue|topup|charge|void|close`: one tap, one operation, for cashiers and technicians.

Amounts: `--amount 12.50` in major units as a person reads them, or `--amount-minor 1250` in integer minor
units (scripts). Exit codes: the one table of `terminal/commands/exitcodes.py` (0 done, 1 declined by a rule,
2 usage or configuration problem, 3 card or reader problem, 4 the card left before the write was confirmed:
tap it again, `stallpay card read` settles it).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from terminal.commands.exitcodes import Exit
from terminal.config import ConfigError
from terminal.money import AmountError, format_money, parse_amount
from terminal.wallet.card import CardError
from terminal.wallet.operations import CardState, Outcome, TapAgain
from terminal.wallet.rules import Declined

OPS = ("read", "issue", "topup", "charge", "void", "close")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("card", help="read or change the wristband on the reader")
    p.add_argument("op", choices=OPS)
    p.add_argument("--config", default="terminal.toml", help="terminal configuration (default: ./terminal.toml)")
    p.add_argument("--reader", help="PC/SC reader name or pattern (overrides the configuration)")
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("--amount", metavar="AMOUNT", help="amount in major units as printed: 12.50 or 12")
    amount.add_argument("--amount-minor", type=int, metavar="N", help="amount in integer minor units (1250 = 12.50)")
    p.add_argument("--method", default="cash", help="top-up / issue payment method: cash, card, voucher, comp")
    p.add_argument("--holder", help="holder reference stored in the journal at issue")
    p.add_argument("--operator", help="operator id recorded in the journal")
    p.add_argument("--timeout", type=float, help="seconds to wait for a card")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.op in ("topup", "charge") and args.amount is None and args.amount_minor is None:
        return _fail(args, Exit.USAGE, "invalid_amount", f"--amount (or --amount-minor) is required for {args.op}")
    from terminal.station import Station

    try:
        station = Station.open(args.config, reader_name=args.reader)
    except ConfigError as exc:
        return _fail(args, Exit.USAGE, "config", str(exc))
    except CardError as exc:
        return _fail(args, Exit.DEVICE, "reader", str(exc))
    try:
        args.amount_minor = _amount(args, station.config.event.currency)
    except AmountError as exc:
        station.close()
        return _fail(args, Exit.USAGE, "invalid_amount", str(exc))
    try:
        with station.tap(args.timeout) as tag:
            result = _do(station, tag, args)
    except TapAgain as exc:
        return _fail(args, Exit.TAP_AGAIN, "tap_again", str(exc))
    except Declined as exc:
        extra = {"missing": exc.missing} if exc.missing is not None else {}
        return _fail(args, Exit.REFUSED, exc.code, exc.message, **extra)
    except CardError as exc:
        return _fail(args, Exit.DEVICE, type(exc).__name__, str(exc))
    finally:
        station.close()
    out = result.as_dict()
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        cur = station.config.event.currency
        line = f"card {out['card_id']} ({out['uid']}): balance {format_money(out['balance'], cur)}, {out['status']}"
        if isinstance(result, Outcome):
            line = f"{result.op} {format_money(result.amount, cur)} done; " + line
        print(line)
    return Exit.DONE


def _amount(args: argparse.Namespace, currency: str) -> int | None:
    """Minor units from --amount (major units, parsed without floats) or --amount-minor."""
    if args.amount_minor is not None:
        if args.amount_minor < 0:
            raise AmountError(f"--amount-minor must not be negative, got {args.amount_minor}")
        return int(args.amount_minor)
    return None if args.amount is None else parse_amount(args.amount, currency)


def _do(station: Any, tag: Any, args: argparse.Namespace) -> CardState | Outcome:
    wallet = station.wallet
    if args.op == "read":
        return wallet.read(tag, operator=args.operator)
    if args.op == "issue":
        return wallet.issue(tag, args.amount_minor or 0, method=args.method, holder=args.holder, operator=args.operator)
    if args.op == "topup":
        return wallet.topup(tag, args.amount_minor, method=args.method, operator=args.operator)
    if args.op == "charge":
        return wallet.charge(tag, args.amount_minor, operator=args.operator)
    if args.op == "void":
        return wallet.void(tag, operator=args.operator)
    return wallet.close(tag, operator=args.operator, method=args.method)


def _fail(args: argparse.Namespace, code: int, reason: str, message: str, **extra: Any) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": reason, "message": message, **extra}, sort_keys=True))
    print(f"stallpay card {args.op}: {message}", file=sys.stderr)
    return code
