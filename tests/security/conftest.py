"""Security walk-throughs run on a SQLite collector (the PostgreSQL store is covered by tests/sync)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.collector.event import init_event
from sync.collector.storage import Store, open_store
from tests.sync.journals import EVENT


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(str(tmp_path / "collector.db"))
    init_event(s, EVENT, "EUR")
    yield s
    s.close()
