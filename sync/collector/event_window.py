"""An event's dates, and when money may move for it: from `starts - grace` to the end of the last day + grace.

The dates are the organizer's calendar days (`YYYY-MM-DD`), kept as settings of the event's books
(`event_starts`, `event_ends`, `event_grace_h`; `stallpay collector settings --event-starts/--event-ends`, and
`events add --starts/--ends`). A day is read as a UTC day and the grace (default 12 h) covers every time zone,
so an event in any zone is open for its whole local days. The window travels to terminals in every bundle
(`settings.event_window`); terminals refuse new money outside it, the collector refuses pairing after it and
flags entries timestamped outside it (`outside_event`, informational: no money is wrong because of it).
The parsing and the window are pure; `stored_window` / `set_window` read and write the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from sync.collector.event import get_setting, set_setting
from sync.collector.storage import Store
from sync.format.event_window import DEFAULT_GRACE_H, MAX_GRACE_H
from sync.format.event_window import EventWindow as AgreedWindow

KEYS = ("event_starts", "event_ends", "event_grace_h")


class DateError(ValueError):
    """A date or grace that cannot be used; the message says which and what is expected.

    `field` names what was refused ("starts", "ends", "grace", "order" or "date") so that a page can show a
    fixed, translated sentence for it while the CLI prints the detailed English message."""

    def __init__(self, message: str, field: str = "date") -> None:
        super().__init__(message)
        self.field = field


def parse_date(text: str, what: str = "date", field: str = "date") -> str:
    """A calendar day as `YYYY-MM-DD` (the canonical text), or DateError naming the field."""
    text = str(text).strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise DateError(f"{what} {text[:40]!r}: give a date as YYYY-MM-DD, e.g. 2026-08-07", field) from None


def parse_grace(value: Any) -> float:
    try:
        grace = float(value)
    except (TypeError, ValueError):
        raise DateError(f"grace {str(value)[:40]!r}: give hours, e.g. 12", "grace") from None
    if not 0 <= grace <= MAX_GRACE_H:  # also refuses nan
        raise DateError(f"grace must be between 0 and {MAX_GRACE_H:g} hours", "grace")
    return grace


@dataclass(frozen=True)
class EventWindow:
    """The event's days (either may be open-ended) and the grace around them."""

    starts: str | None
    ends: str | None
    grace_h: float = DEFAULT_GRACE_H

    def __post_init__(self) -> None:
        if self.starts and self.ends and self.ends < self.starts:
            raise DateError(f"the event ends ({self.ends}) before it starts ({self.starts})", "order")

    @cached_property
    def agreed(self) -> AgreedWindow:
        """The window as terminals read it from a bundle (one arithmetic for both sides: `sync.format`)."""
        return AgreedWindow(date.fromisoformat(self.starts) if self.starts else None,
                            date.fromisoformat(self.ends) if self.ends else None, self.grace_h)

    def position(self, now: datetime) -> str:
        """"before", "open" or "after"."""
        return self.agreed.position(now.timestamp())

    def is_open(self, now: datetime) -> bool:
        return self.position(now) == "open"

    def is_over(self, now: datetime) -> bool:
        return self.position(now) == "after"

    def as_bundle(self) -> dict[str, Any]:
        return self.agreed.as_bundle()


def stored_window(store: Store) -> EventWindow | None:
    """The window of this event's books (None when no date is set; a broken setting counts as unset)."""
    starts, ends, grace = (get_setting(store, k) for k in KEYS)
    try:
        starts = parse_date(starts) if starts else None
        ends = parse_date(ends) if ends else None
        if not (starts or ends):
            return None
        return EventWindow(starts, ends, parse_grace(DEFAULT_GRACE_H if grace is None else grace))
    except DateError:
        return None


def plan_window(store: Store, starts: str | None = None, ends: str | None = None,
                grace_h: float | str | None = None) -> EventWindow:
    """The window the given parts make (None = unchanged; "" clears a date), checked; nothing is written.

    The one check of a change of dates: `collector settings` and the back office events page both use it."""
    current = stored_window(store)
    new_starts = (current.starts if current else None) if starts is None else (
        parse_date(starts, "event start", "starts") if starts else None)
    new_ends = (current.ends if current else None) if ends is None else (
        parse_date(ends, "event end", "ends") if ends else None)
    grace = parse_grace(grace_h) if grace_h is not None else (current.grace_h if current else DEFAULT_GRACE_H)
    return EventWindow(new_starts, new_ends, grace)  # DateError when it ends before it starts


def write_window(store: Store, window: EventWindow) -> dict[str, Any]:
    with store.transaction():
        set_setting(store, "event_starts", window.starts or "")
        set_setting(store, "event_ends", window.ends or "")
        set_setting(store, "event_grace_h", window.grace_h)
    return window.as_bundle()


def entry_time(text: Any) -> datetime | None:
    """An entry's ISO timestamp as an aware datetime (None when unreadable)."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
