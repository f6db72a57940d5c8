"""A fault of the collector's own (a bug behind a route, the database gone away) is logged and answered 503 with a
sentence and Retry-After: JSON on the API, a page of its own in the back office (never a bare 500, never the
exception's text). On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.collector import api
from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.faults import UNEXPECTED
from sync.collector.storage import Store
from terminal.config import load_keys
from tests.sync.journals import configured_terminal


def _app(tmp_path: Path, store: Store) -> TestClient:
    cfg, _term = configured_terminal(tmp_path, 4)
    set_user(store, "org", "correct horse 1")
    return TestClient(create_app(store, load_keys(cfg.parent / "keys.toml")), raise_server_exceptions=False)


def _logged(caplog: pytest.LogCaptureFixture, what: str) -> bool:
    return any(r.name == "sync.collector.faults" and r.exc_info and what in r.getMessage() for r in caplog.records)


def test_a_bug_behind_an_api_route_is_a_503_with_a_reason(tmp_path: Path, store: Store,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    client = _app(tmp_path, store)

    def broken() -> str:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api, "now_iso", broken)
    answer = client.get("/api/v1/time")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json() == {"detail": UNEXPECTED}
    assert "secret internals" not in answer.text
    assert _logged(caplog, "GET /api/v1/time")


def test_a_database_gone_away_is_a_503_for_scripts_and_a_page_for_organizers(
        tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    client = _app(tmp_path, store)
    assert client.get("/api/v1/hotlist", auth=("org", "correct horse 1")).status_code == 200
    store.conn.close()  # the server restarted, the disk failed, the file was removed...
    answer = client.get("/api/v1/hotlist", auth=("org", "correct horse 1"))
    assert answer.status_code == 503 and answer.json() == {"detail": UNEXPECTED}
    page = client.get("/login", headers={"accept": "text/html", "accept-language": "bg"})
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert page.headers["content-type"].startswith("text/html")
    assert "Колекторът срещна неочакван проблем" in page.text and 'href="/login"' in page.text
    assert "closed" not in page.text.lower()  # not the driver's words
    assert _logged(caplog, "GET /login")
