"""`stallpay collector rotate-keys` through the real CLI: a new epoch after a revoke, its key sealed in the
database (never in plaintext), and a bundle that carries it to a paired terminal only."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync.format.face_keys import box_public

CLI = [sys.executable, "-m", "terminal.cli"]


def stallpay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ))


def test_rotate_keys_after_a_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "books.db")
    assert stallpay("collector", "init", "--db", db, "--event-id", "fest-2026").returncode == 0
    for tid, key in ((1, "11" * 32), (2, "22" * 32)):
        assert stallpay("collector", "enroll", "--db", db, "--terminal", str(tid), "--public-key", key).returncode == 0
    assert stallpay("collector", "revoke", "--db", db, "--terminal", "2").returncode == 0
    done = stallpay("collector", "rotate-keys", "--db", db, "--grace-hours", "12")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["epoch"] == 1 and result["revoked_terminals"] == [2]
    assert result["cannot_receive"] == [1]  # enrolled without a box key: it must pair by code to receive keys
    assert json.loads(stallpay("collector", "rotate-keys", "--db", db).stdout)["epoch"] == 2
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT epoch, sealed_key FROM key_epochs ORDER BY epoch").fetchall()
    assert [r[0] for r in rows] == [1, 2] and all(r[1].startswith("sealed1:") for r in rows)
    refused = stallpay("collector", "rotate-keys", "--db", db, "--grace-hours", "-1")
    assert refused.returncode == 1 and "grace" in refused.stderr


def test_box_key_terminal_is_ready_to_receive(tmp_path: Path) -> None:
    from sync.collector.enrollment import enroll
    from sync.collector.event import init_event
    from sync.collector.key_epochs import rotate
    from sync.collector.storage import open_store

    store = open_store(str(tmp_path / "books.db"))
    init_event(store, "fest-2026", "EUR")
    enroll(store, 1, "33" * 32, face_key=box_public(X25519PrivateKey.generate()))
    assert rotate(store)["cannot_receive"] == []
