"""Server-sent events: the card loop, the printer and the HTTP handlers publish, every open screen receives.

Publishers may be any thread; delivery happens on the web server's event
loop. A screen that (re)connects first gets the current state, so after a
lost connection it shows the journal's truth rather than what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

KEEPALIVE_S = 15.0
QUEUE_SIZE = 64


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: set[asyncio.Queue[str]] = set()
        self._lock = threading.Lock()
        self.published = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Thread-safe; drops nothing for live screens (a full queue means a dead one, which is cut)."""
        message = format_event(kind, data)
        self.published += 1
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shutting down
            loop.call_soon_threadsafe(self._fan_out, message)

    def _fan_out(self, message: str) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._queues.discard(queue)

    async def stream(self, first: Callable[[], list[tuple[str, dict[str, Any]]]],
                     disconnected: Callable[[], Any]) -> AsyncIterator[str]:
        if self._loop is None:
            self.attach(asyncio.get_running_loop())
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield "retry: 1000\n\n"
            for kind, data in first():
                yield format_event(kind, data)
            while queue in self._queues:
                try:
                    yield await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await disconnected():
                        break
                    yield ": keep-alive\n\n"
        finally:
            self._queues.discard(queue)


def format_event(kind: str, data: dict[str, Any]) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"event: {kind}\ndata: {body}\n\n"
