"""The one filter bar of the back office: which fields a page narrows by, their values read from the URL once
(refused with a clear message when hostile: the page answers 422, never 500), and the choices each field offers.

Every page that narrows (the dashboard and its live feed, the reports, anomalies, sync, terminals, the audit
log and a card's history) calls `read_bar` with its fields and renders `filter_bar.html`; the links it gives
(CSV, PDF, the live feed) carry the same query so an export or a live update is of the same slice. The event is
not a filter here: it is chosen by the URL prefix (/e/<id>/). Vendors, venues and people must be ones the
collector knows: a name it does not know is refused, not looked for.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sync.collector.report_filters import NONE, FilterError, Filters
from sync.collector.storage import Store

SALES = ("venue", "vendor", "terminal", "day", "hour")
"""The running totals are kept per terminal and hour: the sales pages narrow by all of these."""
TERMINALS = ("venue", "vendor", "terminal")
ANOMALIES = ("venue", "vendor", "terminal", "day")  # day: when the anomaly was found
AUDIT = ("day", "who")
CARD = ("terminal", "day")
NAMES = ("venue", "vendor", "terminal", "day", "hour", "who")
MAX_TEXT = 100


class UnknownName(FilterError):
    """A well-formed name the collector does not know: the message is translated with the name put in."""

    def __init__(self, template: str, name: str) -> None:
        super().__init__(template.format(name=repr(name)))
        self.template, self.name = template, repr(name)


@dataclass(frozen=True)
class Bar:
    """The fields a page shows, what was chosen, and the choices offered (for the template)."""

    fields: tuple[str, ...]
    filters: Filters = NONE
    who: str = ""
    options: dict[str, list[Any]] = field(default_factory=dict)
    error: str = ""
    error_template: str = ""  # an UnknownName's message before the name was put in
    error_name: str = ""

    def message(self, translate: Callable[[str], str]) -> str:
        """The refusal in the page's language."""
        if self.error_template:
            return translate(self.error_template).format(name=self.error_name)
        return translate(self.error)

    def __bool__(self) -> bool:
        return bool(self.filters or self.who)

    def query(self) -> dict[str, str]:
        """The chosen values as URL parameters (for CSV, PDF and live-feed links of the same slice)."""
        return {**self.filters.query(), **({"who": self.who} if self.who else {})}

    def link(self, **extra: str) -> str:
        """`query()` URL-encoded, with extra parameters (e.g. format=csv); empty when nothing is chosen."""
        return urlencode({**extra, **self.query()})

    def keep(self, row: Mapping[str, Any], *, day_of: str = "", terminal_of: str = "terminal_id") -> bool:
        """Whether a row already read (a card's history, the sync list) is in the slice."""
        f = self.filters
        if f.terminal is not None and row.get(terminal_of) != f.terminal:
            return False
        if f.vendor and "vendor" in row and row["vendor"] != f.vendor:
            return False
        if f.venue and "venue" in row and (row["venue"] or "") != f.venue:
            return False
        return not (f.day and day_of and str(row.get(day_of) or "")[:10] != f.day)


def _text(query: Mapping[str, str], name: str) -> str:
    raw = str(query.get(name) or "")
    if len(raw) > MAX_TEXT:
        raise FilterError("a name is at most 100 characters")
    if any(not ch.isprintable() for ch in raw):
        raise FilterError("a name has no control characters")
    return " ".join(raw.split())


UNKNOWN = {"vendor": "no vendor named {name} in this event", "venue": "no venue named {name} in this event",
           "person": "no one named {name} in the audit log"}


def _known(value: str, choices: list[str], label: str) -> str:
    if value and value not in choices:
        raise UnknownName(UNKNOWN[label], value[:40])
    return value


def parse(query: Mapping[str, str], fields: tuple[str, ...], options: Mapping[str, list[Any]]) -> tuple[Filters,
                                                                                                        str]:
    """The page's fields from the URL: fields the page does not use are ignored, anything malformed or unknown
    raises FilterError (its message is shown to the user)."""
    picked = {name: str(query.get(name) or "") for name in NAMES if name in fields}
    terminal_text = picked.get("terminal", "").strip()
    if len(terminal_text) > 5:
        raise FilterError("a terminal is a number from 1 to 65535")
    day = picked.get("day", "").strip()
    if day:
        if len(day) != 10:
            raise FilterError("a day is YYYY-MM-DD")
        try:
            datetime.date.fromisoformat(day)
        except ValueError:
            raise FilterError("a day is YYYY-MM-DD (a real date)") from None
    hour = picked.get("hour", "").strip()
    if len(hour) > 2:
        raise FilterError("an hour is 00 to 23")
    vendor = _known(_text(picked, "vendor"), options.get("vendor", []), "vendor") \
        if "vendor" in fields else ""
    venue = _known(_text(picked, "venue"), options.get("venue", []), "venue") if "venue" in fields else ""
    who = _known(_text(picked, "who"), options.get("who", []), "person") if "who" in fields else ""
    filters = Filters.from_query({"vendor": vendor, "venue": venue, "terminal": terminal_text, "day": day,
                                  "hour": hour})
    return filters, who


def options(store: Store, fields: tuple[str, ...], *, audit_store: Store | None = None,
            days_sql: str = "") -> dict[str, list[Any]]:
    """The choices of each field the page shows, from this event's data (and the home database for people)."""
    out: dict[str, list[Any]] = {}
    if "vendor" in fields:
        out["vendor"] = [r["vendor"] for r in store.query("SELECT DISTINCT vendor FROM terminals ORDER BY vendor")]
    if "venue" in fields:
        out["venue"] = [r["venue"] for r in store.query(
            "SELECT DISTINCT venue FROM terminals WHERE venue <> '' ORDER BY venue")]
    if "terminal" in fields:
        out["terminal"] = [int(r["terminal_id"]) for r in store.query(
            "SELECT terminal_id FROM terminals ORDER BY terminal_id")]
    if "day" in fields:
        sql = days_sql or "SELECT DISTINCT substr(hour, 1, 10) AS day FROM entry_totals ORDER BY day"
        out["day"] = [r["day"] for r in (audit_store or store).query(sql) if r["day"]]
    if "who" in fields and audit_store is not None:
        out["who"] = [r["username"] for r in audit_store.query(
            "SELECT DISTINCT username FROM audit_log ORDER BY username")]
    return out


DAYS_OF_ANOMALIES = "SELECT DISTINCT substr(found_at, 1, 10) AS day FROM anomalies ORDER BY day"
DAYS_OF_AUDIT = "SELECT DISTINCT substr(at, 1, 10) AS day FROM audit_log ORDER BY day"


def read_bar(query: Mapping[str, str], store: Store, fields: tuple[str, ...], *, audit_store: Store | None = None,
             days_sql: str = "") -> Bar:
    """The page's bar: on a hostile or unknown value, an empty selection with `error` set (the page answers 422)."""
    choices = options(store, fields, audit_store=audit_store, days_sql=days_sql)
    try:
        filters, who = parse(query, fields, choices)
    except UnknownName as exc:
        return Bar(fields, options=choices, error=str(exc), error_template=exc.template, error_name=exc.name)
    except FilterError as exc:
        return Bar(fields, options=choices, error=str(exc))
    return Bar(fields, filters, who, choices)
