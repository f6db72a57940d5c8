"""The collector's API reference at /docs, served with no internet.

FastAPI's own /docs loads Swagger UI from a CDN, so in a festival office with no uplink it is a blank page.
Swagger UI (swagger-ui-dist 5.36.0, Apache-2.0, licence and notice beside it) is shipped in `docs_static/`
and served by the collector itself; ReDoc (also a CDN page) is switched off."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_STATIC = Path(__file__).resolve().parent / "docs_static"
ASSETS = "/static/docs"


def serve_offline_docs(app: FastAPI) -> None:
    """Mount the shipped Swagger UI and answer /docs with a page that loads only from this collector.

    The app must be made with `docs_url=None, redoc_url=None`. A further event's API is reached at /e/<id>/
    (`EventScope` strips that prefix and names it `event_prefix` in the scope): its page's URLs carry it."""
    app.mount(ASSETS, StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = (request.scope.get("event_prefix") or request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — API",
                                   swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{ASSETS}/swagger-ui-favicon.png")
