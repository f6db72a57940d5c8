"""The event's dates on the terminal: no new money outside them, unless the terminal cannot tell the time.

The collector sends the window in every bundle (`settings.event_window` = {"starts", "ends", "grace_h"}, dates as
`YYYY-MM-DD`, kept with the other bundle settings in `sync_state`). A sale, top-up, issue or complimentary credit
is refused (`outside_event`) when the terminal's clock is clearly outside [first day - grace, last day + 1 day +
grace] (days read as UTC days; the grace covers time zones). Clearly, because a Pi without network may have a
wrong clock: the check applies only when the time is trusted (the kernel's clock is synchronised, or a bundle
measured the offset to the collector's clock, which is then used). Otherwise the terminal goes on selling and
the collector flags the entries (`outside_event`). Refunds, checkouts, voids and reads are never refused by
dates: guests must get their money back after the event. Pure, except `stored` which reads `sync_state`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from sync.format.event_window import EventWindow, from_bundle
from terminal.wallet.rules import Declined

GUARDED = frozenset({"sale", "issue", "topup", "comp"})  # operations that take or create money
MAX_OFFSET_MS = 24 * 3600 * 1000  # a bundle saying the clock is off by more than a day is not trusted either


def from_settings(settings: Any) -> EventWindow | None:
    """The window in a bundle's settings; None when absent or not understood (a hostile value locks no one out)."""
    return from_bundle(settings.get("event_window") if isinstance(settings, dict) else None)


def trusted_now(now: float, *, synced: bool, offset_ms: Any) -> float | None:
    """The time to judge by, or None when the terminal cannot tell: the collector's time (our clock plus the offset
    the last bundle measured) when known, our clock when the kernel says it is synchronised."""
    if isinstance(offset_ms, int) and not isinstance(offset_ms, bool) and abs(offset_ms) <= MAX_OFFSET_MS:
        return now + offset_ms / 1000
    return now if synced else None


def refusal(window: EventWindow | None, operation: str, now: float | None) -> Declined | None:
    """Why `operation` is refused by the dates at trusted time `now` (None: it may go on)."""
    if window is None or now is None or operation not in GUARDED:
        return None
    where = window.position(now)
    if where == "open":
        return None
    if where == "before":
        return Declined("outside_event", f"the event starts on {window.starts}: no {operation} before it")
    return Declined("outside_event", f"the event ended on {window.ends}: no {operation} after it "
                                     "(refunds still work)")


def stored(db: Any) -> tuple[EventWindow | None, Any]:
    """(the window of the last applied bundle, the clock offset it measured) from the journal's `sync_state`."""
    try:
        rows = dict(db.execute("SELECT key, value FROM sync_state WHERE key IN ('bundle_settings', "
                               "'clock_offset_ms')").fetchall())
    except sqlite3.OperationalError:  # never synced: the table does not exist
        return None, None
    try:
        settings = json.loads(rows["bundle_settings"]) if "bundle_settings" in rows else None
        offset = json.loads(rows["clock_offset_ms"]) if "clock_offset_ms" in rows else None
    except (TypeError, ValueError):
        return None, None
    return from_settings(settings), offset


def check(db: Any, operation: str, now: float, *, synced: bool) -> None:
    """Raise Declined("outside_event") when the last bundle's dates refuse `operation` now."""
    if operation not in GUARDED:
        return
    window, offset = stored(db)
    found = refusal(window, operation, trusted_now(now, synced=synced, offset_ms=offset))
    if found is not None:
        raise found


def gate(journal: Any, clock: Callable[[], float]) -> Callable[[str], None]:
    """`Policy(dates=...)` for a wallet on `journal`: the stored window, read at every operation, so a bundle
    applied in the background takes effect at the next tap; the journal's clock says whether time is synced."""
    return lambda operation: check(journal.db, operation, clock(), synced=bool(journal.clock.synced))
