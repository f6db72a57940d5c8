"""The dashboard page and its live feed (server-sent events: new figures whenever the data changes).

Both take the filter bar's venue, vendor, terminal, day and hour: a narrowed dashboard subscribes to
`/live?<same filter>` and gets only its slice's figures, recomputed from the running totals when a batch lands."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sync.collector.backoffice.charts import bars, columns
from sync.collector.backoffice.dashboard import DashboardCache, filtered_books, filtered_figures, version
from sync.collector.backoffice.filter_bar import SALES, read_bar
from sync.collector.backoffice.language import money
from sync.collector.backoffice.web import Web
from sync.collector.report_filters import Filters
from sync.collector.storage import Store

POLL_S = 1.0
MAX_SLICES = 64
LIVE_FIGURES = ("deposited", "spent", "refunded", "forfeited_complimentary", "outstanding", "entries")


def sliced(store: Store, filters: Filters) -> Callable[[], tuple[tuple, dict[str, Any]]]:
    """The live figures of one slice (shared by its viewers): recomputed only when the data's version changes."""
    last: list[Any] = [None, {}]
    lock = threading.Lock()

    def books() -> tuple[tuple, dict[str, Any]]:
        with lock:
            now = version(store)
            if now != last[0]:
                last[0], last[1] = now, filtered_books(store, filters)
            return now, last[1]
    return books


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    caches: dict[str, DashboardCache] = {}  # one per event: figures never mix
    slices: dict[tuple[str, Filters], Callable[[], tuple[tuple, dict[str, Any]]]] = {}  # viewers of one slice share

    def slice_of(cache: DashboardCache, filters: Filters) -> Callable[[], tuple[tuple, dict[str, Any]]]:
        key = (web.store.event_id(), filters)  # type: ignore[attr-defined]
        if key not in slices:
            if len(slices) >= MAX_SLICES:  # the oldest slice goes (it is recomputed if still watched)
                slices.pop(next(iter(slices)))
            slices[key] = sliced(cache.store, filters)
        return slices[key]

    def cache_of() -> DashboardCache:
        event_id = web.store.event_id()  # type: ignore[attr-defined]
        if event_id not in caches:
            caches[event_id] = DashboardCache(web.events.store(event_id))
        return caches[event_id]

    def live_payload(version: tuple, books: dict, language: str) -> str:
        currency = web.currency
        shown = {k: "—" if books[k] is None else money(books[k], currency, language)
                 for k in LIVE_FIGURES if k != "entries"}
        shown["entries"] = str(books["entries"])
        return json.dumps({"version": str(version), "figures": shown, "raw": {k: books[k] for k in LIVE_FIGURES},
                           "books_balance": books["books_balance"]})

    @web.route(router, "GET", "/", "view")
    async def get_dashboard(request: Request) -> Response:
        bar = await run_in_threadpool(read_bar, request.query_params, web.store, SALES)
        filters = bar.filters
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
        return web.render(request, "dashboard.html", status_code=422 if bar.error else 200, f=figures,
                          charts=charts, version=str(version), filters=filters, bar=bar, fmt=fmt)

    @web.route(router, "GET", "/live", "view")
    async def get_live(request: Request) -> Response:
        bar = await run_in_threadpool(read_bar, request.query_params, web.store, SALES)
        if bar.error:  # a hostile filter: refused before the stream starts
            return Response(json.dumps({"error": bar.error}), status_code=422, media_type="application/json")
        language = web.language(request)
        cache = cache_of()
        books_of = cache.books if not bar.filters else slice_of(cache, bar.filters)

        async def stream() -> AsyncIterator[str]:
            sent = ""
            while not await request.is_disconnected():
                version, books = await run_in_threadpool(books_of)
                if str(version) != sent:
                    sent = str(version)
                    yield f"event: figures\ndata: {live_payload(version, books, language)}\n\n"
                else:
                    yield ": still here\n\n"
                await asyncio.sleep(POLL_S)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router
