"""The USB path end to end through the CLI: `stallpay sync export`, `stallpay collector ingest`, reports."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sync.format.keys import public_hex
from terminal.cli import main
from tests.sync.journals import EVENT
from tests.sync.journals import configured_terminal as _terminal


def test_usb_export_pair_ingest_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "collector.db")
    assert main(["collector", "init", "--db", db, "--event-id", EVENT]) == 0
    cfg, term = _terminal(tmp_path, 3)
    term.book("issue", 1, 3000, method="cash")
    term.book("sale", 1, 1250)
    usb = tmp_path / "usb"
    capsys.readouterr()
    assert main(["collector", "pair", "--db", db, "--vendor", "Grill"]) == 0
    code = capsys.readouterr().out.strip()
    assert main(["sync", "--config", str(cfg), "pair", "--code", code, "--to", str(usb)]) == 0
    assert main(["sync", "--config", str(cfg), "export", "--to", str(usb)]) == 0
    capsys.readouterr()
    assert main(["collector", "ingest", "--db", db, str(usb)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["paired"] == 1 and out["stored"] == 1 and out["new_entries"] == 4
    assert main(["collector", "report", "summary", "--db", db, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["deposited"], s["spent"], s["outstanding"]) == (3000, 1250, 1750)
    # the same stick again: nothing new, still success
    assert main(["collector", "ingest", "--db", db, str(usb)]) == 0
    assert json.loads(capsys.readouterr().out)["duplicate"] == 1


def test_ingest_refusal_exits_nonzero_with_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "collector.db")
    main(["collector", "init", "--db", db, "--event-id", EVENT])
    cfg, term = _terminal(tmp_path, 4)
    term.book("issue", 1, 3000, method="cash")
    usb = tmp_path / "usb"
    main(["sync", "--config", str(cfg), "export", "--to", str(usb)])
    main(["collector", "enroll", "--db", db, "--terminal", "4", "--public-key", public_hex(term.key)])
    (usb / "junk.spb").write_bytes(b"SPB1garbage")
    capsys.readouterr()
    assert main(["collector", "ingest", "--db", db, str(usb)]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "junk.spb" in err and "corrupt" in err
    assert main(["collector", "ingest", "--db", db, str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["ingest", "."], ["report", "summary", "--json"], ["pair"], ["reconcile"],
                                     ["block", "--card", "1"], ["serve", "--keys", "keys.toml"]])
def test_db_must_name_an_initialised_collector(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               command: list[str]) -> None:
    """A mistyped --db is an error (exit 2) that creates nothing, not an empty event that balances."""
    typo = tmp_path / "bokos.db"
    assert main(["collector", command[0], "--db", str(typo), *command[1:]]) == 2
    assert "no collector database at" in capsys.readouterr().err and not typo.exists()
    assert list(tmp_path.iterdir()) == []
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    assert main(["collector", command[0], "--db", str(junk), *command[1:]]) == 2
    assert "not a collector database" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert main(["collector", command[0], "--db", str(empty), *command[1:]]) == 2
    assert "not an initialised collector database" in capsys.readouterr().err


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
def test_db_dsn_must_name_an_initialised_collector(store_target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collector", "report", "summary", "--db", store_target, "--json"]) == 2
    assert "not an initialised collector database" in capsys.readouterr().err
    assert main(["collector", "init", "--db", store_target, "--event-id", EVENT]) == 0
    capsys.readouterr()
    assert main(["collector", "report", "summary", "--db", store_target, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["books_balance"] is True


def test_product_report_shows_progress_and_replacement_quote(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "collector.db")
    main(["collector", "init", "--db", db, "--event-id", EVENT])
    cfg, term = _terminal(tmp_path, 5)
    term.book("issue", 1, 9000, method="cash")
    for i in range(30):
        term.book("sale", 1, 100, items=[{"name": f"p{i % 3}", "qty": 1, "unit_price": 100}])
    usb = tmp_path / "usb"
    main(["sync", "--config", str(cfg), "export", "--to", str(usb)])
    main(["collector", "enroll", "--db", db, "--terminal", "5", "--public-key", public_hex(term.key)])
    assert main(["collector", "ingest", "--db", db, "--quiet", str(usb)]) == 0
    capsys.readouterr()
    assert main(["collector", "report", "products", "--db", db, "--json"]) == 0
    out = capsys.readouterr()
    assert {r["product"]: r["quantity"] for r in json.loads(out.out)} == {"p0": 10, "p1": 10, "p2": 10}
    assert "report products: 1/1 rows" in out.err  # one query on the running totals, not a walk of the rows
    assert main(["collector", "replace", "--db", db, "--card", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"card_id": 1, "balance": 6000, "comp": 0}
    assert main(["collector", "replace", "--db", db, "--card", "99"]) == 1
    assert "no committed entries" in capsys.readouterr().err


def test_package_exports_public_names_only() -> None:
    import sync

    assert "ingest_many" in sync.__all__ and "_refuse" not in sync.__all__
    assert sync.replacement_quote.__module__ == "sync.collector.ledger"
    with pytest.raises(AttributeError):
        sync.entry_row  # noqa: B018


def test_export_takes_config_after_the_action_too(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, term = _terminal(tmp_path, 4)
    term.book("issue", 1, 500, method="cash")
    capsys.readouterr()
    assert main(["sync", "export", "--config", str(cfg), "--to", str(tmp_path / "a")]) == 0
    first = json.loads(capsys.readouterr().out)
    monkeypatch.chdir(cfg.parent)  # and `stallpay sync export --to DIR` with ./terminal.toml
    assert main(["sync", "export", "--to", str(tmp_path / "b")]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["batches"] == second["batches"] == 1 and first["head_seq"] == second["head_seq"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())
