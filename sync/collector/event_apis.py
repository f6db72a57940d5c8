"""The terminal API of every further event of the collector, under `/e/<event id>/` (sync.collector.event_registry).

Each event gets its own API app on its own store and keys; requests reach it with the prefix taken off
(`EventScope`), so a terminal of that event only needs the collector URL with the prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync.collector.backoffice.current_event import EventScope
from sync.collector.event_registry import EventStores


def serve_events(app: Any, events: EventStores, make_api: Callable[[Any, Any], Any]) -> None:
    """Route `/e/<id>/...` to each further event's API app, made now and for events added later."""
    apis: dict[str, Any] = {}

    def add(event_id: str) -> None:
        if event_id != events.home_id and event_id not in apis:
            apis[event_id] = make_api(events.store(event_id), events.keys(event_id))

    for event_id in events.ids():
        add(event_id)
    events.on_added = add
    app.add_middleware(EventScope, events=events, apis=apis)
