"""Mount the back office at / and the guest portal at /portal on the collector's FastAPI app."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sync.collector import faults
from sync.collector.backoffice import (
    routes_cards,
    routes_catalogue,
    routes_corrections,
    routes_dashboard,
    routes_events,
    routes_face,
    routes_operators,
    routes_payouts,
    routes_portal,
    routes_portal_face,
    routes_reports,
    routes_session,
    routes_terminals,
)
from sync.collector.backoffice.current_event import CurrentKeys
from sync.collector.backoffice.language import gettext
from sync.collector.backoffice.web import Forbidden, NotLoggedIn, Web
from sync.collector.event_registry import EventStores
from sync.collector.storage import Store

STATIC = Path(__file__).resolve().parent / "static"


def mount(app: FastAPI, store: Store, keys: Any, events: EventStores | None = None) -> Web:
    """Add the back office and the portal; returns the `Web` whose `permissions` name every guarded route.
    `events`: the collector's events (default: only the one of `store`)."""
    web = Web(events or EventStores(store, keys))
    keys = CurrentKeys(web.events)
    app.mount("/static/office", StaticFiles(directory=STATIC), name="office-static")
    for router in (routes_session.routes(web), routes_dashboard.routes(web),
                   routes_cards.routes(web, keys), routes_terminals.routes(web, keys),
                   routes_operators.routes(web), routes_events.routes(web),
                   routes_corrections.routes(web), routes_face.routes(web),
                   routes_catalogue.routes(web),
                   routes_reports.routes(web), routes_payouts.routes(web), routes_portal_face.routes(web, keys),
                   routes_portal.routes(web)):
        app.include_router(router)

    @app.exception_handler(NotLoggedIn)
    def not_logged_in(request: Request, _exc: NotLoggedIn) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return PlainTextResponse("login required", status_code=401)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, exc: Forbidden) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            return web.render(request, "forbidden.html", status_code=exc.status, message=exc.message)
        return HTMLResponse(exc.message, status_code=exc.status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/") or request.url.path.startswith("/e/"):
            return await faults.unexpected(request, exc)
        faults.logged(request, exc)
        # a page of its own, not the base template: that reads the database, which may be what failed
        language = web.language(request)
        words = escape(gettext(language, faults.UNEXPECTED))
        page = (f'<!doctype html><html lang="{language.replace("_", "-")}"><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width"><title>StallPay</title>'
                f'<p role="alert">{words}</p><p><a href="{escape(request.url.path)}">'
                f'{escape(gettext(language, "Try again"))}</a></p></html>')
        return HTMLResponse(page, status_code=503, headers={"Retry-After": str(faults.RETRY_AFTER_S)})

    return web
