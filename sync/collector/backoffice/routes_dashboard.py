"""The dashboard page and its live feed (server-sent events: new figures whenever the data changes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sync.collector.backoffice.charts import bars, columns
from sync.collector.backoffice.dashboard import DashboardCache, filtered_figures
from sync.collector.backoffice.language import money
from sync.collector.backoffice.web import Web
from sync.collector.report_filters import FilterError, Filters

POLL_S = 1.0
LIVE_FIGURES = ("deposited", "spent", "refunded", "forfeited_complimentary", "outstanding", "entries")


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    caches: dict[str, DashboardCache] = {}  # one per event: figures never mix

    def cache_of() -> DashboardCache:
        event_id = web.store.event_id()  # type: ignore[attr-defined]
        if event_id not in caches:
            caches[event_id] = DashboardCache(web.events.store(event_id))
        return caches[event_id]

    def live_payload(version: tuple, books: dict, language: str) -> str:
        currency = web.currency
        shown = {k: money(books[k], currency, language) for k in LIVE_FIGURES if k != "entries"}
        shown["entries"] = str(books["entries"])
        return json.dumps({"version": str(version), "figures": shown, "raw": {k: books[k] for k in LIVE_FIGURES},
                           "books_balance": books["books_balance"]})

    @web.route(router, "GET", "/", "view")
    async def get_dashboard(request: Request) -> Response:
        try:
            filters = Filters.from_query(request.query_params)
        except FilterError as exc:
            filters, error = Filters(), str(exc)
        else:
            error = ""
        version, figures = await run_in_threadpool(cache_of().get)
        if filters:  # a slice: computed for this request, not live
            figures = await run_in_threadpool(filtered_figures, web.store, filters)
        language, currency = web.language(request), web.currency

        def fmt(amount: int | None) -> str:
            return "—" if amount is None else money(amount, currency, language)

        hours = figures["hours"][-48:]
        charts = {
            "hours": columns([h["hour"][5:].replace("T", " ") + "h" for h in hours], [h["net"] for h in hours], fmt,
                             title="sales per hour"),
            "methods": bars(list(figures["deposited_by_method"]), list(figures["deposited_by_method"].values()),
                            fmt, title="top-ups by method"),
            "products": bars([p["product"] for p in figures["top_products"]],
                             [p["net"] for p in figures["top_products"]], fmt, title="top products"),
            "vendors": bars([v["vendor"] or "?" for v in figures["vendors"][:15]],
                            [v["net"] for v in figures["vendors"][:15]], fmt, title="vendors"),
        }
        store = web.store
        vendors = [r["vendor"] for r in store.query("SELECT DISTINCT vendor FROM terminals ORDER BY vendor")]
        venues = [r["venue"] for r in store.query("SELECT DISTINCT venue FROM terminals WHERE venue <> '' "
                                                  "ORDER BY venue")]
        return web.render(request, "dashboard.html", status_code=422 if error else 200, f=figures, charts=charts,
                          version=str(version), filters=filters, vendors=vendors, venues=venues, error=error,
                          fmt=fmt)

    @web.route(router, "GET", "/live", "view")
    async def get_live(request: Request) -> Response:
        language = web.language(request)
        cache = cache_of()

        async def stream() -> AsyncIterator[str]:
            sent = ""
            while not await request.is_disconnected():
                version, books = await run_in_threadpool(cache.books)
                if str(version) != sent:
                    sent = str(version)
                    yield f"event: figures\ndata: {live_payload(version, books, language)}\n\n"
                else:
                    yield ": still here\n\n"
                await asyncio.sleep(POLL_S)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router
