"""`stallpay operator add|list|unlock --config FILE`: the operators of a terminal (PINs hashed, never shown)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from terminal.config import ConfigError, load_config
from terminal.operators import OperatorError, OperatorStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("operator", help="add, list or unlock terminal operators")
    p.add_argument("action", choices=["add", "list", "unlock", "remove"])
    p.add_argument("--config", required=True, type=Path)
    p.add_argument("--id", dest="operator_id")
    p.add_argument("--name", default="")
    p.add_argument("--role", default="vendor", choices=["vendor", "cashier", "supervisor"])
    p.add_argument("--pin-env", default="STALLPAY_PIN",
                   help="environment variable holding the PIN (default STALLPAY_PIN); asked for if unset")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"stallpay operator: {exc}", file=sys.stderr)
        return 2
    store = OperatorStore(config.data_dir / "operators.db")
    if args.action == "list":
        import time

        for op in store.all():
            d = op.as_dict(time.time())
            print(f"{d['id']}\t{d['name']}\t{d['role']}" + ("\tlocked" if d["locked"] else ""))
        return 0
    if not args.operator_id:
        print(f"stallpay operator {args.action}: --id is required", file=sys.stderr)
        return 2
    if args.action in ("unlock", "remove"):
        try:
            store.unlock(args.operator_id) if args.action == "unlock" else store.remove(args.operator_id)
        except OperatorError as exc:
            print(f"stallpay operator {args.action}: {exc}", file=sys.stderr)
            return 2
        return 0
    pin = os.environ.get(args.pin_env) or getpass.getpass("PIN: ")
    try:
        store.add(args.operator_id, args.name, args.role, pin)
    except OperatorError as exc:
        print(f"stallpay operator add: {exc}", file=sys.stderr)
        return 2
    print(f"operator {args.operator_id} added ({args.role})")
    return 0
