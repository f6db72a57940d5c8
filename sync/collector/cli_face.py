"""`stallpay-collector face-checkout | face-erase | settings | face expire`: the face accounts' actions."""

from __future__ import annotations

import argparse
import json

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
    from sync.collector.face_retention import change_face_settings, parse_event_end

    print(json.dumps(change_face_settings(
        books(args), event_end=None if args.event_end is None else parse_event_end(args.event_end),
        face_retention_days=args.face_retention_days, face_sync_window_h=args.face_sync_window_hours,
        erasure_keep_days=args.erasure_keep_days)))
    return 0


@guard
def run_face_expire(args: argparse.Namespace) -> int:
    from sync.collector.face_retention import purge

    print(json.dumps(purge(books(args))))
    return 0
