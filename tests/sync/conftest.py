"""Collector stores for the sync tests: every store test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once per session from the Debian binaries
(initdb into a temp dir, pg_ctl on 127.0.0.1, as the `postgres` user when run as
root); each test gets its own schema.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.collector.event import init_event
from sync.collector.storage import Store, open_store
from tests.sync.journals import EVENT


def _pg_bin() -> Path | None:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """DSN of a private PostgreSQL server for this test session."""
    pgbin = _pg_bin()
    if pgbin is None:
        pytest.skip("PostgreSQL binaries not installed (scripts/system-packages.txt lists 'postgresql')")
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="stallpay-pg-")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(root, "data"), _free_port()
    subprocess.run([*as_user, str(pgbin / "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off"
    subprocess.run([*as_user, str(pgbin / "pg_ctl"), "-D", data, "-o", opts, "-l", os.path.join(root, "log"),
                    "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(pgbin / "pg_ctl"), "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


_schemas = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh collector database lives: a SQLite path or a PostgreSQL DSN (own schema)."""
    if request.param == "sqlite":
        return str(tmp_path / "collector.db")
    dsn = request.getfixturevalue("pg_server")
    schema = f"t{os.getpid()}_{next(_schemas)}"
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    # the collector's key file of this database, in the test's own directory (inherited by `collector serve`)
    request.getfixturevalue("monkeypatch").setenv("STALLPAY_COLLECTOR_KEY_FILE", str(tmp_path / "collector.key"))
    return f"{dsn}?options=-csearch_path%3D{schema}"


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    s = open_store(store_target)
    init_event(s, EVENT, "EUR")
    yield s
    s.close()
