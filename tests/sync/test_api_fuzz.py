"""The collector API fuzzed from its own OpenAPI description: no input may cause a server error."""

from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.event import init_event
from sync.collector.storage import open_store
from terminal.config import EventKeys
from tests.sync.journals import EVENT

AUTH = {"Authorization": "Basic " + base64.b64encode(b"org:fuzz-password").decode()}


@pytest.fixture
def api_schema(store_target: str):  # type: ignore[no-untyped-def]
    """On SQLite and on PostgreSQL: a text PostgreSQL cannot hold (NUL) is a server error only there."""
    store = open_store(store_target)
    init_event(store, EVENT, "EUR")
    set_user(store, "org", "fuzz-password")
    keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(store, keys))


def test_no_server_errors(api_schema) -> None:  # type: ignore[no-untyped-def]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=AUTH, checks=[not_a_server_error])

        call()
