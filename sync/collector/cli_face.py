"""`stallpay-collector face-checkout | face-erase | settings | face expire | face credits | face freeze | unfreeze`:
the face accounts' actions."""

from __future__ import annotations

import argparse
import json
import sys

from sync.collector.cli_support import books, fail, guard


@guard
def run_face_checkout(args: argparse.Namespace) -> int:
    from sync.collector.face import FaceError, checkout

    try:
        print(json.dumps(checkout(books(args), args.account, by=args.by, pay_out_here=True)))
    except FaceError as exc:
        return fail(str(exc))
    return 0


@guard
def run_face_erase(args: argparse.Namespace) -> int:
    from sync.collector.face import FaceError, check_account_id, erase_account

    try:
        change = erase_account(books(args), check_account_id(args.account), args.reason, by="organizer")
    except FaceError as exc:
        return fail(str(exc))
    print(f"face template of {args.account} erased" + ("" if change else " (already erased)")
          + "; terminals erase it at their next sync ('report erasures' lists those pending)")
    return 0


@guard
def run_settings(args: argparse.Namespace) -> int:
    from sync.collector.event_window import DateError, plan_window, stored_window, write_window
    from sync.collector.face_retention import change_face_settings, parse_event_end

    store = books(args)
    dates = (args.event_starts, args.event_ends, args.event_grace_hours)
    try:  # every date checked before anything is written: a refused date changes nothing
        window = plan_window(store, *dates) if any(d is not None for d in dates) else None
    except DateError as exc:
        return fail(str(exc), 2)
    shown = change_face_settings(
        store, event_end=None if args.event_end is None else parse_event_end(args.event_end),
        face_retention_days=args.face_retention_days, face_sync_window_h=args.face_sync_window_hours,
        erasure_keep_days=args.erasure_keep_days, consent_keep_days=args.consent_keep_days)
    if window is not None:
        write_window(store, window)
    current = stored_window(store)
    print(json.dumps({**shown, "event_window": current.as_bundle() if current else None}))
    return 0


@guard
def run_face_expire(args: argparse.Namespace) -> int:
    from sync.collector.face_retention import purge

    print(json.dumps(purge(books(args))))
    return 0


def add_credits_parser(fs: argparse._SubParsersAction) -> None:
    c = fs.add_parser("credits", help="face top-ups the collector refused: list, accept or reverse them")
    c.add_argument("credit_action", choices=["list", "accept", "reverse"],
                   help="accept: credit the account; reverse: credit and refund it (the organizer returns the cash)")
    c.add_argument("--db", required=True, help="SQLite file or PostgreSQL DSN (postgresql://...)")
    c.add_argument("--terminal", type=int, help="the terminal that journaled the top-up")
    c.add_argument("--seq", type=int, help="its journal sequence number")
    c.add_argument("--by", default="organizer", help="who decides (written to the audit log)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run_face_credits)


@guard
def run_face_credits(args: argparse.Namespace) -> int:
    from sync.collector.face_credits import CreditDecisionError, decide, refused

    store = books(args)
    if args.credit_action == "list":
        found = refused(store)
        print(json.dumps(found) if args.json else "\n".join(
            f"terminal {r['terminal_id']} seq {r['seq']}: {r['account_id']} {r['amount']}" for r in found)
            or "no refused face credits")
        return 0
    if args.terminal is None or args.seq is None:
        print(f"stallpay collector face credits {args.credit_action}: --terminal and --seq name the credit",
              file=sys.stderr)
        return 2
    try:
        done = decide(store, args.terminal, args.seq, args.credit_action, by=args.by)
    except CreditDecisionError as exc:
        print(f"stallpay collector face credits: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(done))
    return 0


def add_freeze_parsers(fs: argparse._SubParsersAction) -> None:
    """`face freeze` / `face unfreeze`: block an account everywhere (terminals decline it at their next bundle)."""
    for action, text in (("freeze", "block a face account: no payment or top-up on it (terminals: next bundle)"),
                         ("unfreeze", "let a frozen face account pay again (terminals: next bundle)")):
        c = fs.add_parser(action, help=text)
        c.add_argument("--db", required=True, help="SQLite file or PostgreSQL DSN (postgresql://...)")
        c.add_argument("--account", required=True, help="face account id")
        c.add_argument("--reason", default="", help="why (written to the audit log)")
        c.add_argument("--by", default="organizer", help="who decides (written to the audit log)")
        c.set_defaults(func=run_face_freeze, frozen=action == "freeze")


@guard
def run_face_freeze(args: argparse.Namespace) -> int:
    from sync.collector.face import FaceError
    from sync.collector.face_freeze import set_frozen

    try:
        print(json.dumps(set_frozen(books(args), args.account, args.frozen, by=args.by, reason=args.reason)))
    except FaceError as exc:
        return fail(str(exc))
    return 0
