"""The kiosk's HTTP API fuzzed from its own OpenAPI description (issue 15): no input, logged in or not, causes a
server error. The kiosk does not publish the description (it serves 127.0.0.1 only); the test takes it from the
app itself."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from terminal.commands.demo import open_demo
from terminal.ui.server import create_app


def test_no_server_errors(demo_template: Path, tmp_path: Path, face_pipeline: Any) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    app = create_app(open_demo(folder / "terminal.toml", face_pipeline=face_pipeline))
    with TestClient(app) as client:  # the app runs (card loop, lifespan) for the whole test
        assert client.post("/api/login", json={"operator": "1", "pin": "1111"}).status_code == 200
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        schema = schemathesis.openapi.from_dict(app.openapi())
        schema.app = app
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 40
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def call(case) -> None:  # type: ignore[no-untyped-def]
                case.call_and_validate(checks=[not_a_server_error])  # not logged in
                case.call_and_validate(headers={"Cookie": cookie}, checks=[not_a_server_error])  # as a vendor

            call()
