"""The collector API fuzzed from its OpenAPI description as an enrolled cashier terminal would call it: every request
validly signed (and with an organizer's login), so the generated bodies, paths and queries reach the handlers behind
the signature check. No input may cause a server error."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from sync.collector.api import create_app
from sync.collector.auth import request_message, set_user
from sync.collector.enrollment import enroll
from sync.collector.event import init_event
from sync.collector.storage import open_store
from sync.format.keys import public_hex, signing_key
from terminal.config import EventKeys
from tests.sync.journals import EVENT

TERMINAL = 7
KEY = signing_key(bytes(range(32)))
AUTH = "Basic " + base64.b64encode(b"org:fuzz-password").decode()


def _body(case) -> bytes:  # type: ignore[no-untyped-def]
    body = case.body
    if body is None or type(body).__name__ == "NotSet":
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and case.media_type != "application/json":
        return body.encode("utf-8", "surrogatepass")
    return json.dumps(body).encode("utf-8", "surrogatepass")


def _send(client: TestClient, case) -> httpx.Response:  # type: ignore[no-untyped-def]
    raw = {k: quote(str(v), safe="") for k, v in (case.path_parameters or {}).items()}  # as a client sends them
    url = httpx.URL(case.path.format(**raw), params=case.query or None)
    path = url.path + (f"?{url.query.decode()}" if url.query else "")
    body = _body(case)
    stamp = datetime.now(UTC).isoformat()
    headers = {"x-terminal-id": str(TERMINAL), "x-timestamp": stamp, "authorization": AUTH,
               "x-signature": KEY.sign(request_message(case.method.upper(), path, stamp, body)).hex()}
    if body:
        headers["content-type"] = case.media_type or "application/json"
    return client.request(case.method.upper(), path, content=body, headers=headers)


def _fuzz(client: TestClient, operation, seen: set[int]) -> None:  # type: ignore[no-untyped-def]
    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case) -> None:  # type: ignore[no-untyped-def]
        answer = _send(client, case)
        seen.add(answer.status_code)
        assert answer.status_code < 500, (operation.path, answer.status_code, answer.text[:300])

    call()


def test_signed_requests_cause_no_server_error(store_target: str) -> None:
    store = open_store(store_target)  # SQLite and PostgreSQL
    init_event(store, EVENT, "EUR")
    set_user(store, "org", "fuzz-password")
    enroll(store, TERMINAL, public_hex(KEY), role="cashier", vendor="Bar")
    keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
    app = create_app(store, keys)
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    statuses: dict[str, set[int]] = {}
    with TestClient(app, raise_server_exceptions=False) as client:
        for operation in operations:
            _fuzz(client, operation, statuses.setdefault(f"{operation.method.upper()} {operation.path}", set()))
    assert set(statuses) == {f"{o.method.upper()} {o.path}" for o in operations}  # every operation was called
    # the signature held: signed terminal routes answered with something other than "who are you"
    assert statuses["POST /api/v1/batches"] - {401}, statuses["POST /api/v1/batches"]
    assert statuses["GET /api/v1/bundle"] - {401}, statuses["GET /api/v1/bundle"]
