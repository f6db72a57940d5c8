"""`stallpay collector rotate-keys`: a new key epoch after a terminal is revoked (sync.collector.key_epochs)."""

from __future__ import annotations

import argparse
import json

from sync.collector.cli_support import books, fail, guard


@guard
def run_rotate_keys(args: argparse.Namespace) -> int:
    from sync.collector.key_epochs import RotationError, rotate

    try:
        result = rotate(books(args), reason=args.reason, grace_hours=args.grace_hours)
    except RotationError as exc:
        return fail(str(exc))
    print(json.dumps(result))
    return 0
