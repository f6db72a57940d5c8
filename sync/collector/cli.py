"""`stallpay-collector ...` (also `stallpay collector ...`): the organizer's side: database, ingest, enrollment,
hotlist, refunds, reports, API.

Every action imports its collector modules when it runs, so `--help` stays fast and the
collector never needs the terminal's card or camera stack.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sync.collector.cli_events import add_events
from sync.collector.cli_face import (
    add_credits_parser,
    add_freeze_parsers,
    run_face_checkout,
    run_face_erase,
    run_face_expire,
    run_settings,
)
from sync.collector.cli_keys import run_rotate_keys
from sync.collector.cli_support import books, fail, guard


def register(sub: argparse._SubParsersAction) -> None:
    """`stallpay collector ACTION`: the same actions as `stallpay-collector ACTION`."""
    add_actions(sub.add_parser("collector", help="the collector: ingest batches, reconcile, reports, HTTP API"))


def add_actions(p: argparse.ArgumentParser) -> None:
    s = p.add_subparsers(dest="collector_command", metavar="ACTION")
    s.required = True

    def cmd(name: str, help_text: str, func) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        c = s.add_parser(name, help=help_text)
        c.add_argument("--db", required=True, help="SQLite file or PostgreSQL DSN (postgresql://...)")
        c.set_defaults(func=func)
        return c

    c = cmd("init", "create or upgrade the database for an event", run_init)
    c.add_argument("--event-id", required=True)
    c.add_argument("--currency", default="EUR")
    c.add_argument("--name", default="")
    c = cmd("ingest", "ingest batch files and pairing files from directories (USB)", run_ingest)
    c.add_argument("paths", nargs="+", type=Path, metavar="DIR")
    c.add_argument("--quiet", action="store_true", help="no progress on stderr")
    c = cmd("pair", "create a one-time pairing code for a terminal", run_pair)
    c.add_argument("--role", default="auto", choices=["auto", "sale", "cashier", "admin"],
                   help="auto (default): the terminal's own mode, sale or cashier (a cashier point may credit)")
    c.add_argument("--vendor", default="")
    c.add_argument("--hours", type=float, default=24, help="validity (default 24 h)")
    c = cmd("enroll", "enroll a terminal directly by its public key", run_enroll)
    c.add_argument("--terminal", type=int, required=True)
    c.add_argument("--public-key", required=True)
    c.add_argument("--role", default="sale", choices=["sale", "cashier", "admin"])
    c.add_argument("--vendor", default="")
    c = cmd("revoke", "revoke a terminal: its batches and requests are refused", run_revoke)
    c.add_argument("--terminal", type=int, required=True)
    c = cmd("rotate-keys", "start a new key epoch (after a revoke): bands move to it at their next write",
            run_rotate_keys)
    c.add_argument("--grace-hours", type=float, default=24.0,
                   help="terminals accept bands of the old epoch this long (default 24; 0 = until re-keyed)")
    c.add_argument("--reason", default="terminal revoked")
    c = cmd("block", "put a card on the hotlist", run_block)
    c.add_argument("--card", type=int, required=True)
    c.add_argument("--reason", default="lost")
    c = cmd("replace", "block a lost card and print the balance (and comp part) its replacement gets", run_replace)
    c.add_argument("--card", type=int, required=True)
    c.add_argument("--reason", default="lost")
    c = cmd("unblock", "take a card off the hotlist", run_unblock)
    c.add_argument("--card", type=int, required=True)
    cmd("reconcile", "recompute anomalies for all cards and hotlist suspicious ones", run_reconcile)
    c = cmd("refund", "list remaining balances, or mark cards refunded and closed", run_refund)
    c.add_argument("--card", type=int, action="append", help="refund this card (repeatable)")
    c.add_argument("--all", action="store_true", help="refund every card with a refundable balance")
    c.add_argument("--by", default="organizer")
    c = cmd("face-checkout", "close a face account, pay out its balance here and erase its template", run_face_checkout)
    c.add_argument("--account", required=True)
    c.add_argument("--by", default="organizer")
    c = cmd("face-erase", "erase a guest's face template at once (terminals follow at their next sync)", run_face_erase)
    c.add_argument("--account", required=True)
    c.add_argument("--reason", default="request", choices=["request", "checkout", "withdrawn"])
    c = cmd("settings", "show or change the event's settings (dates, face: event end, retention, sync window)",
            run_settings)
    c.add_argument("--event-end", help="when the event ends: unix seconds or ISO time (UTC)")
    c.add_argument("--face-retention-days", type=int, help="templates expire this many days after the event end")
    c.add_argument("--face-sync-window-hours", type=float, help="terminals refuse face pay after this long unsynced")
    c.add_argument("--erasure-keep-days", type=int, help="keep erasure records this long after retention ends")
    c.add_argument("--consent-keep-days", type=float,
                   help="keep journal consent entries of people never enrolled this long (default 0)")
    c.add_argument("--event-starts", metavar="YYYY-MM-DD", help="the event's first day (\"\" clears it)")
    c.add_argument("--event-ends", metavar="YYYY-MM-DD", help="the event's last day: money stops after it + grace")
    c.add_argument("--event-grace-hours", type=float, metavar="N",
                   help="hours before the first day and after the last one still open (default 12)")
    face = s.add_parser("face", help="face data: expire templates past their retention")
    fs = face.add_subparsers(dest="face_command", metavar="ACTION")
    fs.required = True
    add_credits_parser(fs)
    add_freeze_parsers(fs)
    c = fs.add_parser("expire", help="erase every template past its expiry now (serve also does it hourly)")
    c.add_argument("--db", required=True, help="SQLite file or PostgreSQL DSN (postgresql://...)")
    c.set_defaults(func=run_face_expire)
    add_events(s)
    c = cmd("bundle", "write the signed bundle for terminals (USB)", run_bundle)
    c.add_argument("--keys", required=True, type=Path, help="event key file")
    c.add_argument("--to", required=True, type=Path, metavar="DIR")
    c.add_argument("--terminal", type=int, help="include this terminal's acknowledgement")
    c = cmd("user", "add or change an organizer login", run_user)
    c.add_argument("--username", required=True)
    c.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    c.add_argument("--role", default="organizer",
                   choices=["organizer", "technician", "viewer", "admin", "finance", "support", "readonly"])
    c = cmd("serve", "run the HTTP API for terminals and organizers", run_serve)
    c.set_defaults(log_default="info")  # a service: its info lines belong in the journal
    c.add_argument("--keys", required=True, type=Path, help="event key file (signs bundles)")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8750)
    c.add_argument("--request-window", type=float, default=300, metavar="SECONDS",
                   help="accept terminal requests signed at most this far from the collector's clock (default 300)")
    c.add_argument("--ingest-workers", type=int, default=2, metavar="N",
                   help="processes that decode and check uploaded batches off the event loop (default 2; 0: none)")
    c = cmd("report", "reports: summary, vendors, terminals, products, hours, daily (days), monthly (months), "
            "cashiers, settlement, anomalies, card, movements, sync, face-accounts, erasures (pending per terminal)",
            run_report)
    c.add_argument("name")
    c.add_argument("--json", action="store_true", help="JSON on stdout")
    c.add_argument("--csv", action="store_true", help="CSV on stdout")
    c.add_argument("--html", type=Path, metavar="FILE",
                   help="write the report as a standalone HTML page (major units, labelled, chart)")
    c.add_argument("--lang", default="en", metavar="LANG", help="the HTML page's language: en, tr, bg, zh_CN")
    c.add_argument("--card", type=int, help="card id (for the 'card' report)")
    c.add_argument("--commission", type=float, default=0.0, help="vendor commission percent (settlement)")
    c.add_argument("--quiet", action="store_true", help="no progress on stderr")


@guard
def run_init(args: argparse.Namespace) -> int:
    from sync.collector.event import init_event

    init_event(books(args), args.event_id, args.currency.upper(), args.name)
    print(f"collector database ready for event {args.event_id}")
    return 0


def _refused_face_credits(store) -> int:  # type: ignore[no-untyped-def]
    from sync.collector.face import REFUSED_CREDIT

    return int(store.scalar("SELECT COUNT(*) FROM anomalies WHERE kind = ?", [REFUSED_CREDIT]) or 0)


@guard
def run_ingest(args: argparse.Namespace) -> int:
    from sync.collector.ingest import ingest_paths
    from sync.collector.ledger import reconcile_pending

    store = books(args)
    for path in args.paths:
        if not path.exists():
            return fail(f"{path}: no such file or directory", 2)

    def progress(i: int, n: int, res) -> None:  # type: ignore[no-untyped-def]
        if not args.quiet and (n >= 20 and (i % max(1, n // 20) == 0 or i == n)):
            print(f"ingest {i}/{n}", file=sys.stderr)

    refused_before = _refused_face_credits(store)
    results = ingest_paths(store, args.paths, progress)
    anomalies = reconcile_pending(store)  # also what a killed earlier run stored and never reconciled
    refused_credits = _refused_face_credits(store) - refused_before
    if refused_credits:  # face top-ups from a terminal not paired as a cashier: booked nowhere, said loudly
        anomalies["refused_face_credit"] = refused_credits
        print(f"warning: {refused_credits} face top-up(s) not credited: the terminal is not paired as a cashier "
              "(see 'collector report anomalies')", file=sys.stderr)
    refused = [r for r in results if not r.ok]
    for r in refused:
        print(f"refused {r.source}: {r.reason}", file=sys.stderr)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(json.dumps({"files": len(results), **counts, "new_entries": sum(r.new_entries for r in results),
                      "anomalies": anomalies}))
    if not results:
        return fail("no batch or pairing files found")
    return 1 if refused else 0


@guard
def run_pair(args: argparse.Namespace) -> int:
    from sync.collector.enrollment import new_pairing_code

    print(new_pairing_code(books(args), role=args.role, vendor=args.vendor, valid_hours=args.hours))
    return 0


@guard
def run_enroll(args: argparse.Namespace) -> int:
    from sync.collector.enrollment import enroll

    enroll(books(args), args.terminal, args.public_key.lower(), role=args.role, vendor=args.vendor)
    print(f"terminal {args.terminal} enrolled")
    return 0


@guard
def run_revoke(args: argparse.Namespace) -> int:
    from sync.collector.enrollment import revoke

    revoke(books(args), args.terminal)
    print(f"terminal {args.terminal} revoked")
    return 0


@guard
def run_block(args: argparse.Namespace) -> int:
    from sync.collector.ledger import block_card

    block_card(books(args), args.card, args.reason)
    print(f"card {args.card} blocked ({args.reason}); terminals refuse it after their next sync")
    return 0


@guard
def run_replace(args: argparse.Namespace) -> int:
    from sync.collector.ledger import LedgerError, replacement_quote

    try:
        quote = replacement_quote(books(args), args.card, reason=args.reason)
    except LedgerError as exc:
        return fail(str(exc))
    print(json.dumps(quote))
    return 0


@guard
def run_unblock(args: argparse.Namespace) -> int:
    from sync.collector.ledger import LedgerError, unblock_card

    try:
        removed = unblock_card(books(args), args.card)
    except LedgerError as exc:
        return fail(str(exc))
    if not removed:
        return fail(f"card {args.card} is not on the hotlist")
    print(f"card {args.card} unblocked")
    return 0


@guard
def run_reconcile(args: argparse.Namespace) -> int:
    from sync.collector.ledger import reconcile

    print(json.dumps(reconcile(books(args))))
    return 0


@guard
def run_refund(args: argparse.Namespace) -> int:
    from sync.collector.refunds import refund_cards, refundable

    store = books(args)
    if not args.card and not args.all:
        print(json.dumps(refundable(store), indent=1))
        return 0
    print(json.dumps(refund_cards(store, None if args.all else args.card, by=args.by), indent=1))
    return 0


@guard
def run_bundle(args: argparse.Namespace) -> int:
    from sync.collector.bundle import build_bundle
    from sync.format.bundle import encode_bundle
    from sync.format.event_keys import ConfigError, load_keys
    from sync.format.private_files import write_private

    try:
        keys = load_keys(args.keys)
    except ConfigError as exc:
        return fail(str(exc), 2)
    store = books(args)
    args.to.mkdir(parents=True, exist_ok=True)
    bundle = build_bundle(store, keys, terminal_id=args.terminal)
    path = args.to / (f"bundle-t{args.terminal:05d}.json" if args.terminal else "bundle.json")
    write_private(path, encode_bundle(bundle))  # the hotlist and operators: the owner's alone (0600)
    print(f"wrote {path} (issued {bundle['body']['issued_at']})")
    return 0


@guard
def run_user(args: argparse.Namespace) -> int:
    import getpass

    from sync.collector.auth import set_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    set_user(books(args), args.username, password, role=args.role)
    print(f"user {args.username} saved")
    return 0


@guard
def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync.collector.api import create_app
    from sync.format.event_keys import ConfigError, load_keys

    books(args).close()  # refuse a database that is not an initialised event before listening
    try:
        keys = load_keys(args.keys)
    except ConfigError as exc:
        return fail(str(exc), 2)
    if not 10 <= args.request_window <= 86400:
        return fail("--request-window must be between 10 and 86400 seconds", 2)
    if not 0 <= args.ingest_workers <= 64:
        return fail("--ingest-workers must be between 0 and 64", 2)
    # further events created in the back office keep their keys beside this event's key file
    app = create_app(args.db, keys, request_window_s=args.request_window, ingest_workers=args.ingest_workers,
                     events_dir=args.keys.resolve().parent)
    from sync.collector.face_retention import collector_purge
    from sync.collector.storage import open_store

    purge = collector_purge(lambda: open_store(args.db))  # expired templates erased hourly, not only in bundles
    purge.start()
    try:
        # logs through sync.format.logconfig; open dashboards keep a live stream: give them 5 s, not forever, at stop
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, timeout_graceful_shutdown=5)
    finally:
        purge.stop()
    return 0


@guard
def run_report(args: argparse.Namespace) -> int:
    from sync.collector.backoffice.report_page import LanguageError, check_language, standalone_report
    from sync.collector.reports import REPORTS, ReportError, render_csv, run_named

    try:
        check_language(args.lang)
    except LanguageError as exc:
        return fail(str(exc), 2)
    store = books(args)
    if args.name not in REPORTS:
        return fail(f"unknown report {args.name!r}; choose from {', '.join(REPORTS)}", 2)
    import time

    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"report {args.name}: {done}/{total} rows ({time.monotonic() - started:.1f} s)", file=sys.stderr)

    try:
        data = run_named(store, args.name, card=args.card, commission=args.commission, progress=progress)
    except ReportError as exc:
        return fail(str(exc))
    if not args.quiet and time.monotonic() - started > 1:
        print(f"report {args.name}: done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    if args.html:
        try:
            page = standalone_report(store, args.name, language=args.lang, card=args.card,
                                     commission=args.commission)
        except ReportError as exc:
            return fail(str(exc))
        args.html.write_text(page, encoding="utf-8")
    if args.csv:
        sys.stdout.write(render_csv(data))
    elif args.json or not args.html:
        print(json.dumps(data, indent=1, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `stallpay-collector` console script."""
    from sync.format.logconfig import ENV_LEVEL, LEVELS, LogLevelError, configure_logging

    parser = argparse.ArgumentParser(prog="stallpay-collector",
                                     description="StallPay collector: ingest batches, reconcile, reports, HTTP API")
    parser.add_argument("--log-level", choices=LEVELS, default=None,
                        help=f"how much to log (default: ${ENV_LEVEL}, else info for serve, warning otherwise)")
    add_actions(parser)
    args = parser.parse_args(argv)
    args.command = "collector"
    try:
        configure_logging(args.log_level, default=getattr(args, "log_default", "warning"))
    except LogLevelError as exc:
        print(f"stallpay-collector: {exc} (from ${ENV_LEVEL})", file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
