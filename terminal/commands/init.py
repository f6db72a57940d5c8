"""`stallpay init`: a working configuration for simulated hardware, and the terminal's key file.

Without --keys a fresh event key file is made (a one-terminal event). With
--keys FULL_EVENT_KEYS the terminal gets DIR/keys.toml holding only what its
--mode needs: DESFire debit and read keys on a sale terminal, the credit key
too on a cashier, never the escrow private key (no terminal can change a
DESFire card's keys), and its own terminal signing key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from terminal.config import ConfigError, load_keys, new_keys_text, role_keys_text, write_config, write_secret_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write DIR/terminal.toml (simulated hardware) and a fresh event key file")
    p.add_argument("--dir", required=True, type=Path, help="directory for terminal.toml, keys and data")
    p.add_argument("--event", default="demo-event", help="event id (default: demo-event)")
    p.add_argument("--terminal", default=1, type=int, help="terminal number 1..65535 (default: 1)")
    p.add_argument("--keys", type=Path, metavar="FULL_EVENT_KEYS",
                   help="the event's full key file: DIR/keys.toml gets only what --mode needs from it")
    p.add_argument("--currency", default="EUR")
    p.add_argument("--vendor", default="Demo Stall")
    p.add_argument("--mode", default="sale", choices=["sale", "cashier", "admin"])
    p.add_argument("--force", action="store_true", help="overwrite an existing terminal.toml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target: Path = args.dir
    config_path = target / "terminal.toml"
    if config_path.exists() and not args.force:
        print(f"stallpay init: {config_path} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    if not 1 <= args.terminal <= 65535:
        print("stallpay init: --terminal must be 1..65535", file=sys.stderr)
        return 2
    event_id = args.event
    if args.keys is not None:
        try:
            keys = load_keys(args.keys)
        except ConfigError as exc:
            print(f"stallpay init: {exc}", file=sys.stderr)
            return 2
        event_id = keys.event_id
        keys_path = target / "keys.toml"
        if keys_path.resolve() == args.keys.resolve():
            print("stallpay init: --keys must not be DIR/keys.toml itself", file=sys.stderr)
            return 2
        write_secret_file(keys_path, role_keys_text(keys, args.mode))
    else:
        keys_path = target / "keys.toml"
        write_secret_file(keys_path, new_keys_text(event_id))
    write_config(config_path, {
        "event": {"id": event_id, "currency": args.currency.upper(), "locale": "en"},
        "terminal": {"id": args.terminal, "name": f"terminal-{args.terminal}", "vendor": args.vendor,
                     "mode": args.mode},
        "reader": {"backend": "emulated", "emulated_card": "cards/wristband-1.json"},
        "limits": {"max_balance": 50_000, "max_sale": 20_000, "void_window_s": 600},
        "paths": {"data": "data", "keys": keys_path.name},
    })
    print(f"wrote {config_path} (event {event_id}, terminal {args.terminal}); keys in {keys_path}")
    return 0
