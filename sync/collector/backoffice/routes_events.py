"""Events of this collector: the list with each one's books, a new event (admin), and choosing the event every
other page shows (a cookie; `?event=` on any page does the same for one request)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.current_event import EVENT_COOKIE
from sync.collector.backoffice.dashboard import figures_of_books
from sync.collector.event_registry import RegistryError
from sync.collector.event_window import DateError, plan_window, stored_window
from sync.collector.summary import summary

EventId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
# a refused change of dates, by what `event_window` refused: fixed sentences, so the page can translate them
DATE_REFUSALS = {
    "starts": "The start is not a date: give YYYY-MM-DD, e.g. 2026-08-07. Nothing was changed.",
    "ends": "The end is not a date: give YYYY-MM-DD, e.g. 2026-08-07. Nothing was changed.",
    "grace": "The grace is a number of hours from 0 to 336. Nothing was changed.",
    "order": "The event cannot end before it starts. Nothing was changed.",
}


def routes(web: Any) -> APIRouter:
    router = APIRouter()

    def page(request: Request, status_code: int = 200, **extra: object) -> Response:
        rows = []
        for ev in web.events.list():
            dates = {}
            try:
                event_store = web.events.store(ev["event_id"])
                books = figures_of_books(summary(event_store, check_cards=False))
                window = stored_window(event_store)  # the dates in force (`collector settings` may change them)
                if window is not None:
                    dates = {"starts": window.starts or "", "ends": window.ends or "", "grace_h": f"{window.grace_h:g}"}
            except RegistryError:
                books = None
            rows.append({**ev, **dates, "books": books})
        return web.render(request, "events.html", status_code=status_code, rows=rows,
                          current=web.store.event_id(), **extra)

    @web.route(router, "GET", "/events", "view")
    def get_events(request: Request) -> Response:
        web.events.refresh()  # events added with `stallpay collector events add` while serving
        return page(request)

    @web.route(router, "POST", "/events", "events.manage")
    async def post_event(request: Request) -> Response:
        form = await request.form()
        event_id = str(form.get("event_id") or "").strip()
        try:
            web.events.add(event_id, str(form.get("name") or ""), str(form.get("currency") or "").strip().upper(),
                           str(form.get("starts") or ""), str(form.get("ends") or ""))
        except RegistryError as exc:
            return page(request, 422, error=str(exc))
        audit.record(web.home, request.state.session.username, "event created", f"event:{event_id}")
        return page(request, message="Event created. Its terminals sync to /e/<event>/ on this collector.")

    @web.route(router, "POST", "/events/{event_id}/dates", "events.manage")
    async def post_dates(event_id: EventId, request: Request) -> Response:
        """Set or change an event's dates and grace in its own books, checked as `collector settings` checks them."""
        if event_id not in web.events.ids():
            return page(request, 404, error=f"no event {event_id} on this collector")
        form = await request.form()
        grace = str(form.get("grace_h") or "").strip()
        event_store = web.events.store(event_id)
        before = stored_window(event_store)
        try:  # "" clears a date, an empty grace keeps the one in force; nothing is written when refused
            window = plan_window(event_store, str(form.get("starts") or "").strip(),
                                 str(form.get("ends") or "").strip(), grace or None)
        except DateError as exc:
            return page(request, 422, error=DATE_REFUSALS.get(exc.field, str(exc)))
        web.events.set_window(event_id, window)
        audit.record(web.home, request.state.session.username, "event dates changed", f"event:{event_id}",
                     old=before.as_bundle() if before else None, new=window.as_bundle())
        return page(request, message="Event dates saved. Terminals enforce them from their next bundle.")

    @web.route(router, "GET", "/events/{event_id}/select", "view")
    def get_select(event_id: EventId, request: Request) -> Response:
        if event_id not in web.events.ids():
            return page(request, 404, error=f"no event {event_id} on this collector")
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(EVENT_COOKIE, event_id, httponly=True, samesite="strict")
        return answer

    return router
