"""Roles enforced by the wallet through the real CLI (subprocesses): a terminal enrolled for sales cannot create
or pay out money, an operator cannot borrow a role, and the collector's books balance afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.storage import open_store
from sync.collector.summary import summary
from sync.format.keys import public_hex
from terminal.config import load_config, load_keys

CLI = [sys.executable, "-m", "terminal.cli"]


def stallpay(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    return done.returncode, json.loads(last) if last.startswith("{") else {"stdout": done.stdout}


def card(config: Path, *args: str) -> tuple[int, dict]:
    return stallpay("card", *args, "--config", str(config), "--json")


@pytest.fixture(scope="module")
def event(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A cashier terminal and a sale terminal of one event, sharing one emulated wristband."""
    root = tmp_path_factory.mktemp("roles")
    cashier, stall = root / "cashier", root / "stall"
    assert stallpay("init", "--dir", str(cashier), "--event", "fest", "--terminal", "1", "--mode", "cashier")[0] == 0
    assert stallpay("init", "--dir", str(stall), "--terminal", "2", "--mode", "sale",
                    "--keys", str(cashier / "keys.toml"))[0] == 0
    band = cashier / "cards" / "wristband-1.json"
    data = tomllib.loads((stall / "terminal.toml").read_text())
    data["reader"]["emulated_card"] = str(band)
    (stall / "terminal.toml").write_text(tomli_w.dumps(data))
    code, issued = card(cashier / "terminal.toml", "issue", "--amount-minor", "2000")
    assert code == 0 and issued["balance"] == 2000
    return {"cashier": cashier / "terminal.toml", "stall": stall / "terminal.toml"}


@pytest.mark.parametrize("args", [
    ("issue", "--amount-minor", "1000"),
    ("topup", "--amount-minor", "500"),
    ("topup", "--amount-minor", "40000", "--method", "comp"),
    ("close",),
])
def test_a_sale_terminal_cannot_create_or_pay_out_money(event: dict[str, Path], args: tuple[str, ...]) -> None:
    code, refused = card(event["stall"], *args)
    assert code == 1 and refused["error"] == "not_permitted_mode" and "enrolled for sale" in refused["message"]
    code, state = card(event["stall"], "read")
    assert code == 0 and state["balance"] == 2000 and state["status"] == "active"


def test_operator_roles_are_checked_by_the_wallet(event: dict[str, Path]) -> None:
    cashier = event["cashier"]
    for op_id, role in (("5", "vendor"), ("6", "cashier")):
        code, _ = stallpay("operator", "add", "--config", str(cashier), "--id", op_id, "--name", role,
                           "--role", role, env={"STALLPAY_PIN": "4711"})
        assert code == 0
    code, refused = card(cashier, "topup", "--amount-minor", "100", "--operator", "5")
    assert code == 1 and refused["error"] == "not_permitted" and "vendor may not top up" in refused["message"]
    code, refused = card(cashier, "topup", "--amount-minor", "100", "--operator", "nobody")
    assert code == 1 and refused["error"] == "unknown_operator"
    code, done = card(cashier, "topup", "--amount-minor", "100", "--operator", "6")
    assert code == 0 and done["balance"] == 2100


def test_the_stall_still_sells_and_the_books_balance(event: dict[str, Path], tmp_path: Path) -> None:
    code, sold = card(event["stall"], "charge", "--amount-minor", "300")
    assert code == 0 and sold["balance_after"] == sold["balance_before"] - 300
    db, usb = str(tmp_path / "books.db"), tmp_path / "usb"
    assert stallpay("collector", "init", "--db", db, "--event-id", "fest")[0] == 0
    for name, role in (("cashier", "cashier"), ("stall", "sale")):
        config = load_config(event[name])
        key = Ed25519PrivateKey.from_private_bytes(load_keys(config.keys_path).terminal_signing_key)
        assert stallpay("collector", "enroll", "--db", db, "--terminal", str(config.terminal.id),
                        "--public-key", public_hex(key), "--role", role)[0] == 0
        assert stallpay("sync", "export", "--config", str(event[name]), "--to", str(usb))[0] == 0
    assert stallpay("collector", "ingest", "--db", db, str(usb), "--quiet")[0] == 0
    store = open_store(db)
    try:
        books = summary(store)
        declines = store.query("SELECT data FROM entries WHERE op = 'decline' AND terminal_id = 2")
    finally:
        store.close()
    assert books["books_balance"] and books["anomalies"] == {}
    assert books["deposited"] == books["outstanding"] + books["spent"] and books["spent"] >= 300
    codes = [json.loads(r["data"])["code"] for r in declines]
    assert codes.count("not_permitted_mode") >= 4  # every refusal above is in the stall's journal
