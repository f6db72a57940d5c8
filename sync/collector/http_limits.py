"""Request bodies limited while they stream: a body over its path's limit is refused with 413 as soon as it is
announced (Content-Length) or as soon as the bytes read cross the limit, so a hostile client cannot make the
collector hold more than the limit in memory (a 200 MB POST is never buffered).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import orjson
from fastapi import HTTPException, Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_LIMIT = 1024 * 1024


class BodyLimit:
    """ASGI middleware; `limits` are (path prefix, bytes), the first matching prefix wins, else `default`."""

    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]] = (), default: int = DEFAULT_LIMIT) -> None:
        self.app = app
        self.limits = tuple(limits)
        self.default = default

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        announced = dict(scope.get("headers") or ()).get(b"content-length")
        if announced is not None and (not announced.isdigit() or int(announced) > limit):
            await _refuse(send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # chunked or lying about its length: stop reading here
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Send, limit: int) -> None:
    body = b'{"detail":"request body larger than %d bytes"}' % limit
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def holds_nul(value: Any) -> bool:
    """Text anywhere in `value` (JSON-shaped) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(holds_nul, value))
    return False


async def no_nul_text(request: Request) -> None:
    """An API path, query or JSON body with a NUL character in any text is refused (422) before the route runs:
    PostgreSQL text cannot hold one (blocking a card or saving a catalogue with one was a 500), and no terminal or
    organizer sends one. Bodies only of routes with a JSON body model, which FastAPI reads anyway: a batch upload is
    never read before its sender is known. Other bodies (batches, forms) have their own checks."""
    if request.url.path.startswith("/api/") and any(  # the back office's pages say it in their own words
            map(holds_nul, (*request.path_params.values(), *request.query_params.values()))):
        raise HTTPException(422, "text fields may not contain NUL characters")
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()  # kept by the request: the route reads the same bytes
    if b"\\u0000" not in body and b"\x00" not in body:
        return
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # the route's own validation says what is wrong
    if holds_nul(parsed):
        raise HTTPException(422, "text fields may not contain NUL characters")
