"""`stallpay sim`: a whole event through the real code paths (see sync/sim/simulation.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="simulate a whole event and check the books")
    p.add_argument("--terminals", type=int, default=4)
    p.add_argument("--cards", type=int, default=50)
    p.add_argument("--sales", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tear-rate", type=float, default=0.0, help="probability a card write is torn (0..1)")
    p.add_argument("--offline-terminals", type=int, default=0, help="terminals that never sync")
    p.add_argument("--replace-rate", type=float, default=0.0,
                   help="fraction of open cards lost after the event and replaced with their ledger balance")
    p.add_argument("--refund-rate", type=float, default=0.0,
                   help="fraction of open cards refunded at the collector after the event")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--db", help="collector database (default: DIR/collector.db)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from sync.sim import SimError, simulate
    except ImportError as exc:
        print(f"stallpay sim: simulation not available ({exc})", file=sys.stderr)
        return 2
    try:
        result = simulate(terminals=args.terminals, cards=args.cards, sales=args.sales, seed=args.seed,
                          tear_rate=args.tear_rate, offline_terminals=args.offline_terminals, out=args.out,
                          db=args.db, replace_rate=args.replace_rate, refund_rate=args.refund_rate)
    except SimError as exc:
        print(f"stallpay sim: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1))
    return 0
