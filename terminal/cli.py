"""The `stallpay` command: one entry point, a subcommand per job.

Each job lives in its own module exposing `register(subparsers)`; modules are
imported only when needed so that `stallpay --help` stays fast and a missing
optional part (camera, PostgreSQL) never breaks the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (subcommand, module that registers it). Add a line per new job.
COMMANDS: list[tuple[str, str]] = [
    ("init", "terminal.commands.init"),
    ("card", "terminal.commands.card"),
]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stallpay", description="StallPay terminal and collector")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS:
        if only is not None and name != only:
            sub.add_parser(name, help=f"(see 'stallpay {name} --help')")
            continue
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    names = {name for name, _ in COMMANDS}
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first if first in names else None)
    args = parser.parse_args(args_list)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
