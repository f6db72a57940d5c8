"""The `stallpay` command: one entry point, a subcommand per job.

Each job lives in its own module exposing `register(subparsers)`; modules are
imported only when needed so that `stallpay --help` stays fast and a missing
optional part (camera, PostgreSQL) never breaks the others. `stallpay collector`
loads only the collector's CLI (`sync.collector.cli`, also `stallpay-collector`):
nothing of the terminal's card, camera or store stack, so it runs from an
installation with only the `collector` extra.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from sync.format.logconfig import ENV_LEVEL, LEVELS, LogLevelError, configure_logging
from terminal.commands import exitcodes

# (subcommand, module that registers it). Add a line per new job.
COMMANDS: list[tuple[str, str]] = [
    ("init", "terminal.commands.init"),
    ("card", "terminal.commands.card"),
    ("receipt", "terminal.commands.receipt"),
    ("sync", "terminal.commands.sync"),
    ("collector", "sync.collector.cli"),
    ("sim", "terminal.commands.sim"),
    ("emulator", "terminal.commands.emulator"),
    ("serve", "terminal.commands.serve"),
    ("demo", "terminal.commands.demo"),
    ("operator", "terminal.commands.operator"),
    ("provision", "terminal.commands.provision"),
    ("selftest", "terminal.commands.selftest"),
    ("face", "terminal.commands.face"),
]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stallpay", description="StallPay terminal and collector",
                                     epilog=exitcodes.table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", choices=LEVELS, default=None,
                        help=f"how much to log (default: ${ENV_LEVEL}, else info for services, warning for commands)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS:
        if only is not None and name != only:
            sub.add_parser(name, help=f"(see 'stallpay {name} --help')")
            continue
        try:
            importlib.import_module(module).register(sub)
        except ImportError as exc:  # an optional part that is not installed must not break the others
            stub = sub.add_parser(name, help=f"(unavailable: {exc})")
            stub.set_defaults(func=_unavailable(name, exc))
    return parser


def _unavailable(name: str, exc: ImportError) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        print(f"stallpay {name}: not available on this installation ({exc})", file=sys.stderr)
        return exitcodes.Exit.USAGE

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    names = {name for name, _ in COMMANDS}
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first if first in names else None)
    args = parser.parse_args(args_list)
    try:
        configure_logging(args.log_level, default=getattr(args, "log_default", "warning"))
    except LogLevelError as exc:
        print(f"stallpay: {exc} (from ${ENV_LEVEL})", file=sys.stderr)
        return 2
    if args.command != "collector":  # the collector never prints, and installs without the printer stack
        from terminal.printer.profiles_cache import keep_profiles_cached

        keep_profiles_cached()  # before anything imports python-escpos
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        # A database from a newer release, or an upgrade that failed: say so, change nothing. terminal.schema
        # (sqlite-utils) is looked up, not imported: a command that never loaded it cannot have raised it, and
        # the collector's commands must not pay for (or need) the terminal's stores.
        schema = sys.modules.get("terminal.schema")
        if schema is None or not isinstance(exc, schema.SchemaError):
            raise
        print(f"stallpay {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
