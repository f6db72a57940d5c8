"""The collector's card limits, as the last bundle carried them, bounding this terminal's own.

A terminal's terminal.toml is a file a technician (or a thief) can edit; the event's limits are the
collector's `card_limits` setting, sent in every bundle (`settings.card_limits`) and kept in the journal
database's `sync_state`. The wallet applies the lower of each pair, read at every operation, so a bundle
applied in the background takes effect at the next tap without a restart, and raising a limit in the
terminal's toml never lets it past the collector's.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

from terminal.wallet.rules import Limits

FIELDS = ("max_balance", "ntag_max_balance", "credit_per_day", "max_sale")


def collector_limits(db: Any) -> dict[str, int]:
    """The limits in the last applied bundle ({} before the first one, or when it names none)."""
    try:
        row = db.execute("SELECT value FROM sync_state WHERE key = 'bundle_settings'").fetchone()
    except sqlite3.OperationalError:  # no sync yet: the table does not exist
        return {}
    try:
        settings = json.loads(row[0]) if row else None
    except (TypeError, ValueError):
        return {}
    limits = settings.get("card_limits") if isinstance(settings, dict) else None
    if not isinstance(limits, dict):
        return {}
    return {k: v for k, v in limits.items() if k in FIELDS and isinstance(v, int) and not isinstance(v, bool)
            and v >= 0}


def bounded(own: Limits, collector: dict[str, int]) -> Limits:
    """`own` with each limit lowered to the collector's where the collector's is lower."""
    changes: dict[str, int] = {}
    for name, cap in collector.items():
        mine = getattr(own, name)
        changes[name] = cap if mine is None else min(mine, cap)
    return replace(own, **changes) if changes else own
