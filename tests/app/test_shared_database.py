"""The terminal's shared SQLite connection (`terminal.store.SharedDatabase`): reads open no transaction, and
sqlite-utils' tracer sees them as it sees writes."""

from __future__ import annotations

from pathlib import Path

from terminal.store import open_database


def test_reads_are_traced_and_leave_no_transaction_open(tmp_path: Path) -> None:
    db = open_database(tmp_path / "t.db")
    db.execute("CREATE TABLE t (x INTEGER)")
    seen: list[str] = []
    with db.tracer(lambda sql, _params: seen.append(sql)):
        db.execute("INSERT INTO t (x) VALUES (?)", [1])
        rows = list(db.query("SELECT x FROM t WHERE x = ?", [1]))
    assert rows == [{"x": 1}]
    assert "SELECT x FROM t WHERE x = ?" in seen and "INSERT INTO t (x) VALUES (?)" in seen
    assert not db.conn.in_transaction  # a reader's savepoint made another thread's BEGIN IMMEDIATE fail
