"""The event's dates as both sides read them: the bundle's `settings.event_window` and when money may move.

`{"starts": "YYYY-MM-DD" | None, "ends": ... , "grace_h": hours}`: the organizer's first and last calendar day,
read as UTC days, and a grace (default 12 h, at most two weeks) that covers every time zone. Money may move from
the first day's start less the grace to the end of the last day plus the grace. The collector writes the window
(`sync.collector.event_window`) and judges entries and pairing by it; the terminal refuses new money outside it
(`terminal.wallet.event_window`). One arithmetic here, so the two can never disagree about a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

DEFAULT_GRACE_H = 12.0
MAX_GRACE_H = 24.0 * 14


@dataclass(frozen=True)
class EventWindow:
    """The first and last day (either may be open) and the grace around them, in hours."""

    starts: date | None
    ends: date | None
    grace_h: float = DEFAULT_GRACE_H

    @property
    def opens(self) -> float | None:
        """Unix time of the first moment money may move."""
        if self.starts is None:
            return None
        return datetime(self.starts.year, self.starts.month, self.starts.day, tzinfo=UTC).timestamp() \
            - self.grace_h * 3600

    @property
    def closes(self) -> float | None:
        """Unix time of the last moment: the end of the last day, plus the grace."""
        if self.ends is None:
            return None
        last = datetime(self.ends.year, self.ends.month, self.ends.day, tzinfo=UTC) + timedelta(days=1)
        return last.timestamp() + self.grace_h * 3600

    def position(self, now: float) -> str:
        """"before", "open" or "after" at unix time `now`."""
        opens, closes = self.opens, self.closes
        if opens is not None and now < opens:
            return "before"
        if closes is not None and now > closes:
            return "after"
        return "open"

    def is_open(self, now: float) -> bool:
        return self.position(now) == "open"

    def as_bundle(self) -> dict[str, Any]:
        return {"starts": self.starts and self.starts.isoformat(), "ends": self.ends and self.ends.isoformat(),
                "grace_h": self.grace_h}


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def from_bundle(raw: Any) -> EventWindow | None:
    """The window a bundle's `settings.event_window` names; None when absent or not understood (a hostile value
    locks no one out)."""
    if not isinstance(raw, dict):
        return None
    starts, ends, grace = _day(raw.get("starts")), _day(raw.get("ends")), raw.get("grace_h", DEFAULT_GRACE_H)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not 0 <= grace <= MAX_GRACE_H:
        return None
    if (starts is None and ends is None) or (starts and ends and ends < starts):
        return None
    return EventWindow(starts, ends, float(grace))
