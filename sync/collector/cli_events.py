"""`stallpay collector events add|list`: further events on one collector (sync.collector.event_registry), the same
as the back office's Events page. Each event gets its own books next to the --db database and its own keys file
(0600) in --keys-dir, the directory of the key file `collector serve --keys` is given; a running `serve` serves a
new event's API under `/e/<id>/` after its next start."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sync.collector.cli_support import books, fail, guard


def add_events(s: argparse._SubParsersAction) -> None:
    events = s.add_parser("events", help="further events on this collector: add, list")
    es = events.add_subparsers(dest="events_command", metavar="ACTION")
    es.required = True
    c = es.add_parser("add", help="add an event with its own books and keys")
    c.add_argument("--db", required=True, help="the home database (SQLite file or postgresql:// URL)")
    c.add_argument("--keys-dir", required=True, type=Path,
                   help="where the new event's keys file is written (the directory of serve's --keys file)")
    c.add_argument("--event-id", required=True, help="1 to 40 lower-case letters, digits or dashes")
    c.add_argument("--currency", default="EUR")
    c.add_argument("--name", default="")
    c.add_argument("--starts", default="", help="YYYY-MM-DD: the first day (terminals refuse money before it)")
    c.add_argument("--ends", default="", help="YYYY-MM-DD: the last day (no money nor pairing after it + 12 h)")
    c.set_defaults(func=run_events_add)
    c = es.add_parser("list", help="every event of this collector (JSON lines)")
    c.add_argument("--db", required=True, help="the home database (SQLite file or postgresql:// URL)")
    c.set_defaults(func=run_events_list)


def _registry(args: argparse.Namespace, keys_dir: Path | None = None):  # type: ignore[no-untyped-def]
    from sync.collector.event_registry import EventStores

    return EventStores(books(args), None, home_target=str(args.db), keys_dir=keys_dir)


@guard
def run_events_add(args: argparse.Namespace) -> int:
    from sync.collector.event_registry import RegistryError
    from sync.collector.event_window import DateError, EventWindow, parse_date

    try:  # a date that is no date is a usage error (2), as for `collector settings`; nothing is created
        EventWindow(args.starts and parse_date(args.starts, "--starts"), args.ends and parse_date(args.ends, "--ends"))
    except DateError as exc:
        return fail(str(exc), 2)
    try:
        added = _registry(args, args.keys_dir.resolve()).add(args.event_id, args.name, args.currency.upper(),
                                                              args.starts, args.ends)
    except RegistryError as exc:
        return fail(str(exc))
    print(json.dumps(added))
    return 0


@guard
def run_events_list(args: argparse.Namespace) -> int:
    from sync.collector.event_registry import RegistryError
    from sync.collector.event_window import stored_window

    registry = _registry(args)
    for row in registry.list():
        try:  # the dates in force are the event's own settings (`collector settings`, the Events page)
            window = stored_window(registry.store(row["event_id"]))
        except RegistryError:
            window = None
        dates = {"starts": window.starts or "", "ends": window.ends or "", "grace_h": window.grace_h} if window else {}
        print(json.dumps({**row, **dates}))
    return 0
