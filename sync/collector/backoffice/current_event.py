"""Which event a back-office request is about, and the terminal API of every other event.

The event comes from `?event=` or the `stallpay_event` cookie (the home event otherwise) and is kept in a
context variable for the request, so the route modules' `store` (a `CurrentStore`) is the chosen event's
books without passing it around. Terminals of a further event talk to `/e/<event id>/api/v1/...`: the
prefix is taken off and the request goes to that event's own API app, so their signed paths stay as-is.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool

from sync.collector.event_registry import EventStores

EVENT_COOKIE = "stallpay_event"
PREFIX = "/e/"
LOOK_EVERY_S = 5.0  # an unknown /e/<id>/ looks into the registry at most this often
_current: ContextVar[str | None] = ContextVar("stallpay_event", default=None)


def current_id(events: EventStores) -> str:
    chosen = _current.get()
    return chosen if chosen is not None and chosen in events.ids() else events.home_id


class CurrentStore:
    """The chosen event's store: every attribute is the current event's (accounts stay at `office_store`)."""

    _OWN = frozenset(("_events", "office_store"))

    def __init__(self, events: EventStores) -> None:
        object.__setattr__(self, "_events", events)
        object.__setattr__(self, "office_store", events.home)

    def event_id(self) -> str:
        return current_id(self._events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._events.store(current_id(self._events)), name)

    def __setattr__(self, name: str, value: Any) -> None:
        # flags and caches callers keep on a store (sealing key, scrub_pending) belong to the event's own store
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._events.store(current_id(self._events)), name, value)


class CurrentKeys:
    """The chosen event's keys (they sign its bundles)."""

    def __init__(self, events: EventStores) -> None:
        self._events = events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._events.keys(current_id(self._events)), name)


def _chosen(scope: dict) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("event"):
        return query["event"][0]
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            cookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header chooses nothing
                return None
            if EVENT_COOKIE in cookie:
                return cookie[EVENT_COOKIE].value
    return None


class EventScope:
    """ASGI middleware: sets the request's event, and sends `/e/<id>/...` to that event's API app."""

    def __init__(self, app: Any, events: EventStores, apis: dict[str, Any]) -> None:
        self.app, self.events, self.apis = app, events, apis
        self.next_look = 0.0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(PREFIX):
            event_id, _, rest = path[len(PREFIX):].partition("/")
            api = self.apis.get(event_id)
            if api is None and time.monotonic() >= self.next_look:  # added by `collector events add` meanwhile?
                self.next_look = time.monotonic() + LOOK_EVERY_S
                await run_in_threadpool(self.events.refresh)
                api = self.apis.get(event_id)
            if api is not None:
                inner = {**scope, "path": "/" + rest, "raw_path": ("/" + rest).encode(),
                         "event_prefix": f"{PREFIX}{event_id}"}  # for pages linking back (the API's /docs)
                await api(inner, receive, send)
                return
        token = _current.set(_chosen(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
