"""Schema steps: a terminal's 0.1.0 databases open in this release with their data; a newer database is refused
untouched; a later step (sqlite-utils add_column / transform) runs in one transaction with the version."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from terminal.camera.gallery import Gallery
from terminal.catalogue_store import CatalogueStore
from terminal.cli import main
from terminal.operators import OperatorStore, hash_pin
from terminal.printer.png_file import PngTransport
from terminal.printer.print_queue import PrintQueue
from terminal.schema import CATALOGUE as CATALOGUE_SCHEMA
from terminal.schema import FACE_GALLERY as FACE_SCHEMA
from terminal.schema import JOURNAL as JOURNAL_SCHEMA
from terminal.schema import OPERATORS as OPERATORS_SCHEMA
from terminal.schema import PRINT_QUEUE as PRINT_SCHEMA
from terminal.schema import SETTINGS as SETTINGS_SCHEMA
from terminal.schema import Schema, SchemaError, Step, migrate, user_version
from terminal.settings_store import SettingsStore
from terminal.store import open_database
from terminal.wallet.hotlist import Hotlist
from tests.provisioning.release_0_1_0 import make_release_0_1_0

VERSIONS = {"journal.db": JOURNAL_SCHEMA, "catalogue.db": CATALOGUE_SCHEMA, "operators.db": OPERATORS_SCHEMA,
            "settings.db": SETTINGS_SCHEMA, "printqueue.db": PRINT_SCHEMA, "face.db": FACE_SCHEMA}


@pytest.fixture
def terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Path]:
    assert main(["init", "--dir", str(tmp_path), "--event", "fest", "--terminal", "3", "--mode", "cashier"]) == 0
    capsys.readouterr()
    data = tmp_path / "data"
    make_release_0_1_0(data, {
        "operators.db": [("INSERT INTO operators (id, name, role, pin_hash) VALUES (?, ?, ?, ?)",
                          ("ana", "Ana", "cashier", hash_pin("482193")))],
        "settings.db": [("INSERT INTO settings VALUES (?, ?)", ("language", "tr"))],
        "catalogue.db": [("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)", ("ayran", "Ayran", 250, "drinks", "", 0)),
                         ("INSERT INTO meta VALUES (?, ?)", ("seeded", "1700000000"))],
        "printqueue.db": [("INSERT INTO jobs (kind, label, format, payload, state, created) VALUES (?, ?, ?, ?, ?, ?)",
                           ("receipt", "sale 41", "escpos", b"\x1b@hello", "pending", 1700000000.0))],
        "journal.db": [("INSERT INTO hotlist (card_id, reason, since) VALUES (?, ?, ?)", (77, "lost", "2026-01-01"))],
    })
    return str(tmp_path / "terminal.toml"), data


def test_release_0_1_0_databases_upgrade_and_keep_their_data(terminal: tuple[str, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    cfg, data = terminal
    assert main(["card", "issue", "--config", cfg, "--amount-minor", "1500", "--json"]) == 0  # old file
    assert '"balance": 1500' in capsys.readouterr().out
    assert OperatorStore(data / "operators.db").login("ana", "482193").role == "cashier"
    assert SettingsStore(data / "settings.db").get("language", "en") == "tr"
    assert [p.sku for p in CatalogueStore(data / "catalogue.db").catalogue().products] == ["ayran"]
    queue = PrintQueue(data / "printqueue.db", PngTransport(tmp_path / "png"))
    assert [(j.label, j.payload, j.state) for j in queue.jobs()] == [("sale 41", b"\x1b@hello", "pending")]
    queue.close()
    assert len(Gallery(data / "face.db", b"k" * 32)) == 0
    assert 77 in Hotlist(open_database(data / "journal.db"))
    for name, schema in VERSIONS.items():
        assert user_version(sqlite3.connect(data / name)) == schema.version >= 1, name


def test_a_newer_database_is_refused_untouched(terminal: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    cfg, data = terminal
    conn = sqlite3.connect(data / "operators.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = hashlib.sha256((data / "operators.db").read_bytes()).hexdigest()
    assert main(["operator", "list", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert "operators.db was written by a newer StallPay (schema 99" in err and "not changed" in err
    assert hashlib.sha256((data / "operators.db").read_bytes()).hexdigest() == before


def _v2_add_phone_and_rename(db: sqlite_utils.Database) -> None:
    db["operators"].add_column("phone", str, not_null_default="")
    db["operators"].transform(rename={"locked_until": "locked_until_s"})


def test_later_steps_use_sqlite_utils_and_roll_back_together(tmp_path: Path) -> None:
    path = tmp_path / "operators.db"
    store = OperatorStore(path)
    store.add("ana", "Ana", "cashier", "482193")
    store.db.close()
    n = len(OPERATORS_SCHEMA.steps)  # the released steps; the test adds two more
    v2 = Schema("operators", [*OPERATORS_SCHEMA.steps,
                              Step(n + 1, "phone, seconds in the name", apply=_v2_add_phone_and_rename)])
    db = open_database(path)
    assert migrate(db, v2) == n  # the version it had
    assert user_version(db) == n + 1
    assert db["operators"].columns_dict["phone"] is str and "locked_until_s" in db["operators"].columns_dict
    assert [r["id"] for r in db["operators"].rows] == ["ana"]

    def broken(db: sqlite_utils.Database) -> None:
        db["operators"].add_column("badge", str)
        db.execute("INSERT INTO missing_table VALUES (1)")

    v3 = Schema("operators", [*v2.steps, Step(n + 2, "a step that fails half-way", apply=broken)])
    with pytest.raises(SchemaError, match=f"upgrade from {n + 1} to {n + 2} failed, nothing was changed"):
        migrate(db, v3, where=str(path))
    assert user_version(db) == n + 1 and "badge" not in db["operators"].columns_dict


def test_steps_must_be_numbered_without_gaps() -> None:
    with pytest.raises(ValueError, match="without gaps"):
        Schema("x", [Step(1, "a", sql="SELECT 1"), Step(3, "b", sql="SELECT 1")])
