"""Narrowing the sales reports to a venue, a vendor, a terminal, a day and an hour of the day.

The running totals (`entry_totals`, `product_totals`, `operator_totals`) are kept per terminal and hour, so
every filter is a WHERE clause on them: the reports stay as fast filtered as not. The event is chosen by
the store itself (sync.collector.event_registry). Values come from a URL: anything malformed is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
HOUR = re.compile(r"[01]\d|2[0-3]")


class FilterError(ValueError):
    """A filter value that is not a vendor name, terminal id, day (YYYY-MM-DD) or hour (00-23)."""


@dataclass(frozen=True)
class Filters:
    vendor: str = ""
    terminal: int | None = None
    day: str = ""
    hour: str = ""
    venue: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        vendor = " ".join(str(query.get("vendor") or "").split())[:100]
        terminal_text = str(query.get("terminal") or "").strip()
        day, hour = str(query.get("day") or "").strip(), str(query.get("hour") or "").strip()
        if terminal_text and not (terminal_text.isascii() and terminal_text.isdigit()
                                  and 1 <= int(terminal_text) <= 65535):
            raise FilterError("a terminal is a number from 1 to 65535")
        if day and not DAY.fullmatch(day):
            raise FilterError("a day is YYYY-MM-DD")
        if hour and not HOUR.fullmatch(hour):
            raise FilterError("an hour is 00 to 23")
        venue = " ".join(str(query.get("venue") or "").split())[:100]
        return cls(vendor, int(terminal_text) if terminal_text else None, day, hour, venue)

    def __bool__(self) -> bool:
        return bool(self.vendor or self.terminal is not None or self.day or self.hour or self.venue)

    def where(self, hour_column: str = "hour", terminal_column: str = "terminal_id") -> tuple[str, list]:
        """SQL conditions (each starting with AND) and their parameters."""
        sql, params = "", []
        if self.vendor:
            sql += f" AND {terminal_column} IN (SELECT terminal_id FROM terminals WHERE vendor = ?)"
            params.append(self.vendor)
        if self.venue:
            sql += f" AND {terminal_column} IN (SELECT terminal_id FROM terminals WHERE venue = ?)"
            params.append(self.venue)
        if self.terminal is not None:
            sql += f" AND {terminal_column} = ?"
            params.append(self.terminal)
        if self.day:
            sql += f" AND substr({hour_column}, 1, 10) = ?"
            params.append(self.day)
        if self.hour:
            sql += f" AND substr({hour_column}, 12, 2) = ?"
            params.append(self.hour)
        return sql, params

    def query(self) -> dict[str, str]:
        """As URL parameters (for links to the same report as CSV or PDF)."""
        out = {"vendor": self.vendor, "terminal": "" if self.terminal is None else str(self.terminal),
               "day": self.day, "hour": self.hour, "venue": self.venue}
        return {k: v for k, v in out.items() if v}


NONE = Filters()
