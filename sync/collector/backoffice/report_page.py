"""A report as one standalone HTML file: what `collector report NAME --html` writes and the API's `format=html`.

Built from the back office's report views (rows, labels, money in major units, the SVG chart) so the file and the
back office page show the same figures the same way; no navigation, no links, the stylesheet inline, nothing
fetched from anywhere, so it can be mailed, archived or printed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sync.collector.backoffice.language import LANGUAGES, gettext
from sync.collector.backoffice.report_views import cell, chart, columns, label, report_rows, view_of
from sync.collector.backoffice.web import environment
from sync.collector.event import get_meta
from sync.collector.reports import ReportError
from sync.collector.storage import Store

STATIC = Path(__file__).resolve().parent / "static"
PRINT_CSS = """
body { background: #fff; }
main { max-width: 1100px; margin: 0 auto; }
@media print { main { padding: 0; } .card { border: 0; padding: 0; } tr { break-inside: avoid; } }
"""


class LanguageError(ReportError):
    """A language the reports are not written in (the CLI exits 2, the API answers 422)."""


@lru_cache(maxsize=1)
def style() -> str:
    """The back office's stylesheet (system fonts, no url()) with a few lines for a page without navigation."""
    return (STATIC / "office.css").read_text(encoding="utf-8") + PRINT_CSS


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise LanguageError(f"unknown language {language!r}; choose from {', '.join(LANGUAGES)}")
    return language


def standalone_report(
    store: Store, name: str, *, language: str = "en", commission: float = 0.0, card: int | None = None
) -> str:
    """The report `name` as a complete HTML page in `language` (raises ReportError for an unknown name)."""
    check_language(language)
    view = view_of(name)
    rows = report_rows(store, view.name, commission=commission, card=card)
    currency = get_meta(store, "currency") or "EUR"
    event_id = get_meta(store, "event_id") or ""
    event_name = get_meta(store, "name") or ""
    cols = columns(rows)
    numeric = {c for c in cols if rows and all(isinstance(r.get(c), int | float) or r.get(c) is None for r in rows)}
    table = [
        [
            (
                label(language, r[c]) if c == "item" else cell(r, c, currency, language),
                isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool),
            )
            for c in cols
        ]
        for r in rows
    ]
    context = []
    if view.name == "settlement":
        context.append(f"{label(language, 'commission')} {commission:g} %")
    if view.name == "card" and card is not None:
        context.append(f"{label(language, 'card')} {card}")
    return (
        environment(language)
        .get_template("report_standalone.html")
        .render(
            title=gettext(language, view.title),
            event=f"{event_name} ({event_id})" if event_name else event_id,
            currency=currency,
            context=context,
            style=style(),
            chart=chart(view, rows, currency, language),
            headers=[(label(language, c), c in numeric) for c in cols],
            rows=table,
        )
    )
