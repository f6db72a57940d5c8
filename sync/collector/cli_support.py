"""What every `stallpay-collector` action shares: the --db database, and the collector's own errors as one line on
stderr."""

from __future__ import annotations

import argparse
import sys


def fail(message: str, code: int = 1) -> int:
    print(f"stallpay collector: {message}", file=sys.stderr)
    return code


def books(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The --db database; only `collector init` may create one (a mistyped path is an error, not a new event)."""
    from sync.collector.event import open_event_store
    from sync.collector.storage import open_store

    return open_store(args.db) if args.collector_command == "init" else open_event_store(args.db)


def guard(func):  # type: ignore[no-untyped-def]
    """Turn the collector's own errors into one line on stderr: a database problem exits 2, a refusal 1."""

    def run(args: argparse.Namespace) -> int:
        from sync.collector.enrollment import EnrollmentError
        from sync.collector.prepared_stream import WorkerFailed
        from sync.collector.storage import StoreError

        try:
            return func(args)
        except StoreError as exc:
            return fail(str(exc), 2)
        except WorkerFailed as exc:  # killed (out of memory?): the groups stored before stay, each exactly once
            return fail(f"ingest stopped: {exc}. What was stored stays stored; run the same command again to "
                        "store the rest", 2)
        except (EnrollmentError, ValueError) as exc:
            return fail(str(exc))

    return run
