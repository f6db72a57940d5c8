"""`stallpay collector ...`: the organizer's side: database, ingest, enrollment, hotlist, refunds, reports, API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collector", help="the collector: ingest batches, reconcile, reports, HTTP API")
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
    c = cmd("settings", "show or change the event's face settings (event end, retention, sync window)",
            run_settings)
    c.add_argument("--event-end", help="when the event ends: unix seconds or ISO time (UTC)")
    c.add_argument("--face-retention-days", type=int, help="templates expire this many days after the event end")
    c.add_argument("--face-sync-window-hours", type=float, help="terminals refuse face pay after this long unsynced")
    c.add_argument("--erasure-keep-days", type=int, help="keep erasure records this long after retention ends")
    face = s.add_parser("face", help="face data: expire templates past their retention")
    fs = face.add_subparsers(dest="face_command", metavar="ACTION")
    fs.required = True
    c = fs.add_parser("expire", help="erase every template past its expiry now (serve also does it hourly)")
    c.add_argument("--db", required=True, help="SQLite file or PostgreSQL DSN (postgresql://...)")
    c.set_defaults(func=run_face_expire)
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
    c = cmd("report", "reports: summary, vendors, terminals, products, hours, daily (days), monthly (months), "
            "cashiers, settlement, anomalies, card, movements, sync, face-accounts, erasures (pending per terminal)",
            run_report)
    c.add_argument("name")
    c.add_argument("--json", action="store_true", help="JSON on stdout")
    c.add_argument("--csv", action="store_true", help="CSV on stdout")
    c.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report with charts")
    c.add_argument("--card", type=int, help="card id (for the 'card' report)")
    c.add_argument("--commission", type=float, default=0.0, help="vendor commission percent (settlement)")
    c.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _fail(message: str, code: int = 1) -> int:
    print(f"stallpay collector: {message}", file=sys.stderr)
    return code


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The --db database; only `collector init` may create one (a mistyped path is an error, not a new event)."""
    from sync.event import open_event_store
    from sync.storage import open_store

    return open_store(args.db) if args.collector_command == "init" else open_event_store(args.db)


def _guard(func):  # type: ignore[no-untyped-def]
    """Turn the collector's own errors into one line on stderr: a database problem exits 2, a refusal 1."""

    def run(args: argparse.Namespace) -> int:
        from sync.enrollment import EnrollmentError
        from sync.storage import StoreError

        try:
            return func(args)
        except StoreError as exc:
            return _fail(str(exc), 2)
        except (EnrollmentError, ValueError) as exc:
            return _fail(str(exc))

    return run


@_guard
def run_init(args: argparse.Namespace) -> int:
    from sync.event import init_event

    init_event(_store(args), args.event_id, args.currency.upper(), args.name)
    print(f"collector database ready for event {args.event_id}")
    return 0


def _refused_face_credits(store) -> int:  # type: ignore[no-untyped-def]
    from sync.face import REFUSED_CREDIT

    return int(store.scalar("SELECT COUNT(*) FROM anomalies WHERE kind = ?", [REFUSED_CREDIT]) or 0)


@_guard
def run_ingest(args: argparse.Namespace) -> int:
    from sync.ingest import ingest_paths
    from sync.ledger import reconcile_pending

    store = _store(args)
    for path in args.paths:
        if not path.exists():
            return _fail(f"{path}: no such file or directory", 2)

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
        return _fail("no batch or pairing files found")
    return 1 if refused else 0


@_guard
def run_pair(args: argparse.Namespace) -> int:
    from sync.enrollment import new_pairing_code

    print(new_pairing_code(_store(args), role=args.role, vendor=args.vendor, valid_hours=args.hours))
    return 0


@_guard
def run_enroll(args: argparse.Namespace) -> int:
    from sync.enrollment import enroll

    enroll(_store(args), args.terminal, args.public_key.lower(), role=args.role, vendor=args.vendor)
    print(f"terminal {args.terminal} enrolled")
    return 0


@_guard
def run_revoke(args: argparse.Namespace) -> int:
    from sync.enrollment import revoke

    revoke(_store(args), args.terminal)
    print(f"terminal {args.terminal} revoked")
    return 0


@_guard
def run_block(args: argparse.Namespace) -> int:
    from sync.ledger import block_card

    block_card(_store(args), args.card, args.reason)
    print(f"card {args.card} blocked ({args.reason}); terminals refuse it after their next sync")
    return 0


@_guard
def run_replace(args: argparse.Namespace) -> int:
    from sync.ledger import LedgerError, replacement_quote

    try:
        quote = replacement_quote(_store(args), args.card, reason=args.reason)
    except LedgerError as exc:
        return _fail(str(exc))
    print(json.dumps(quote))
    return 0


@_guard
def run_unblock(args: argparse.Namespace) -> int:
    from sync.ledger import unblock_card

    if not unblock_card(_store(args), args.card):
        return _fail(f"card {args.card} is not on the hotlist")
    print(f"card {args.card} unblocked")
    return 0


@_guard
def run_reconcile(args: argparse.Namespace) -> int:
    from sync.ledger import reconcile

    print(json.dumps(reconcile(_store(args))))
    return 0


@_guard
def run_refund(args: argparse.Namespace) -> int:
    from sync.refunds import refund_cards, refundable

    store = _store(args)
    if not args.card and not args.all:
        print(json.dumps(refundable(store), indent=1))
        return 0
    print(json.dumps(refund_cards(store, None if args.all else args.card, by=args.by), indent=1))
    return 0


@_guard
def run_face_checkout(args: argparse.Namespace) -> int:
    from sync.face import FaceError, checkout

    try:
        print(json.dumps(checkout(_store(args), args.account, by=args.by, pay_out_here=True)))
    except FaceError as exc:
        return _fail(str(exc))
    return 0


@_guard
def run_face_erase(args: argparse.Namespace) -> int:
    from sync.face import FaceError, check_account_id, erase_account

    try:
        change = erase_account(_store(args), check_account_id(args.account), args.reason, by="organizer")
    except FaceError as exc:
        return _fail(str(exc))
    print(f"face template of {args.account} erased" + ("" if change else " (already erased)")
          + "; terminals erase it at their next sync ('report erasures' lists those pending)")
    return 0


@_guard
def run_settings(args: argparse.Namespace) -> int:
    from sync.face_retention import change_face_settings, parse_event_end

    print(json.dumps(change_face_settings(
        _store(args), event_end=None if args.event_end is None else parse_event_end(args.event_end),
        face_retention_days=args.face_retention_days, face_sync_window_h=args.face_sync_window_hours,
        erasure_keep_days=args.erasure_keep_days)))
    return 0


@_guard
def run_face_expire(args: argparse.Namespace) -> int:
    from sync.face_retention import purge

    print(json.dumps(purge(_store(args))))
    return 0


@_guard
def run_bundle(args: argparse.Namespace) -> int:
    from sync.bundle import build_bundle, encode_bundle
    from sync.export import write_atomic
    from terminal.config import ConfigError, load_keys

    try:
        keys = load_keys(args.keys)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    store = _store(args)
    args.to.mkdir(parents=True, exist_ok=True)
    bundle = build_bundle(store, keys, terminal_id=args.terminal)
    path = args.to / (f"bundle-t{args.terminal:05d}.json" if args.terminal else "bundle.json")
    write_atomic(path, encode_bundle(bundle))
    print(f"wrote {path} (issued {bundle['body']['issued_at']})")
    return 0


@_guard
def run_user(args: argparse.Namespace) -> int:
    import getpass

    from sync.auth import set_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    set_user(_store(args), args.username, password, role=args.role)
    print(f"user {args.username} saved")
    return 0


@_guard
def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync.api import create_app
    from terminal.config import ConfigError, load_keys

    _store(args).close()  # refuse a database that is not an initialised event before listening
    try:
        keys = load_keys(args.keys)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    if not 10 <= args.request_window <= 86400:
        return _fail("--request-window must be between 10 and 86400 seconds", 2)
    # further events created in the back office keep their keys beside this event's key file
    app = create_app(args.db, keys, request_window_s=args.request_window, events_dir=args.keys.resolve().parent)
    from sync.face_retention import collector_purge
    from sync.storage import open_store

    purge = collector_purge(lambda: open_store(args.db))  # expired templates erased hourly, not only in bundles
    purge.start()
    try:
        # logs through terminal.logconfig; open dashboards keep a live stream: give them 5 s, not forever, at stop
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, timeout_graceful_shutdown=5)
    finally:
        purge.stop()
    return 0


@_guard
def run_report(args: argparse.Namespace) -> int:
    from sync.reports import REPORTS, ReportError, render_csv, render_html, run_named

    store = _store(args)
    if args.name not in REPORTS:
        return _fail(f"unknown report {args.name!r}; choose from {', '.join(REPORTS)}", 2)
    import time

    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"report {args.name}: {done}/{total} rows ({time.monotonic() - started:.1f} s)", file=sys.stderr)

    try:
        data = run_named(store, args.name, card=args.card, commission=args.commission, progress=progress)
    except ReportError as exc:
        return _fail(str(exc))
    if not args.quiet and time.monotonic() - started > 1:
        print(f"report {args.name}: done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    if args.html:
        args.html.write_text(render_html(store, args.name, data), encoding="utf-8")
    if args.csv:
        sys.stdout.write(render_csv(data))
    elif args.json or not args.html:
        print(json.dumps(data, indent=1, default=str))
    return 0
