"""`GET /api/v1/reports/{name}` on the collector's API: a report as JSON, CSV or a standalone HTML page.

The HTML page is the back office's report view (`backoffice.report_page`): money in major units with the
currency, labelled columns, the SVG chart, in the language asked for. The module has no postponed annotations:
FastAPI reads `Depends(organizer)` from the live annotation.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse

from sync.collector.backoffice.report_page import LanguageError, check_language, standalone_report
from sync.collector.reports import REPORTS, ReportError, render_csv, run_named
from sync.collector.storage import Store


def add_report_route(app: FastAPI, store: Store, organizer: Callable[..., Any]) -> None:
    @app.get(
        "/api/v1/reports/{name}", summary="A report as JSON, CSV or a standalone HTML page (`lang`: en, tr, bg, zh_CN)"
    )
    def get_report(
        name: Annotated[str, Path(pattern="^[a-z-]+$")],
        _: Annotated[str, Depends(organizer)],
        format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json",
        card: Annotated[int | None, Query(ge=0, le=2**62)] = None,
        commission: Annotated[float, Query(ge=0, le=100)] = 0.0,
        lang: Annotated[str, Query(max_length=10, description="the HTML page's language")] = "en",
    ) -> Any:
        if name not in REPORTS:
            raise HTTPException(404, f"unknown report {name!r}")
        try:
            check_language(lang)
            if format == "html":
                return HTMLResponse(standalone_report(store, name, language=lang, commission=commission, card=card))
            data = run_named(store, name, card=card, commission=commission)
        except LanguageError as exc:
            raise HTTPException(422, str(exc)) from None
        except ReportError as exc:
            raise HTTPException(422, str(exc)) from None
        if format == "csv":
            return PlainTextResponse(render_csv(data), media_type="text/csv")
        return data
