"""A DESFire band's whole life through the CLI and the real PC/SC stack (pyscard -> pcscd -> vpcd -> the card
emulator attached by `stallpay emulator attach`): a blank card personalised by `card issue` at a cashier terminal,
charged and voided at a vendor terminal whose role-limited keys cannot top it up, closed at the cashier; then both
journals go to the collector by USB export and its books balance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nfc.test_pcsc_emulator_cli import READER, _attach, _first_line, _stop

pytestmark = pytest.mark.pcsc
EVENT = "fest-desfire"


def _stallpay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "terminal.cli", *args], capture_output=True, text=True, timeout=60)


def _card(config: Path, op: str, *args: str) -> tuple[int, dict]:
    done = _stallpay("card", op, "--config", str(config), "--reader", READER, "--timeout", "10", "--json", *args)
    return done.returncode, json.loads(done.stdout.splitlines()[-1]) if done.stdout.strip() else {}


def test_desfire_band_issued_at_a_cashier_is_charged_at_a_vendor(pcscd, tmp_path: Path) -> None:
    full = tmp_path / "organizer"
    assert _stallpay("init", "--dir", str(full), "--event", EVENT).returncode == 0
    for name, tid, mode in (("cashier", "1", "cashier"), ("vendor", "2", "sale")):
        done = _stallpay("init", "--dir", str(tmp_path / name), "--terminal", tid, "--mode", mode,
                         "--keys", str(full / "keys.toml"))
        assert done.returncode == 0, done.stderr
    cashier, vendor = tmp_path / "cashier" / "terminal.toml", tmp_path / "vendor" / "terminal.toml"
    vendor_keys = (tmp_path / "vendor" / "keys.toml").read_text()
    assert "debit" in vendor_keys and "credit" not in vendor_keys and "escrow_private" not in vendor_keys

    state = tmp_path / "band.json"
    attached = _attach("--product", "DESFIRE_EV2", "--state", str(state))
    try:
        assert "DESFIRE_EV2" in _first_line(attached)
        code, out = _card(vendor, "issue", "--amount-minor", "5000")
        assert (code, out["error"]) == (1, "not_permitted_mode")  # the wallet refuses before the card would
        code, out = _card(cashier, "issue", "--amount-minor", "5000")
        assert code == 0 and out["balance"] == 5000, out
        code, out = _card(vendor, "charge", "--amount-minor", "1250")
        assert code == 0 and out["balance"] == 3750, out
        code, out = _card(vendor, "topup", "--amount-minor", "100000")
        assert (code, out["error"]) == (1, "not_permitted_mode")  # the wallet refuses before the card would
        code, out = _card(vendor, "void")
        assert code == 0 and out["balance"] == 5000, out
        code, out = _card(vendor, "charge", "--amount-minor", "700")
        assert code == 0 and out["balance"] == 4300, out
        code, out = _card(cashier, "topup", "--amount-minor", "1000", "--method", "comp")
        assert code == 0 and out["balance"] == 5300 and out["complimentary"] == 1000, out
        code, out = _card(vendor, "read")
        assert code == 0 and [h["op"] for h in out["history"]] == ["topup", "sale", "void", "sale"], out
        code, out = _card(cashier, "close")
        assert code == 0 and out["refund"] == 4300 and out["forfeited_comp"] == 1000, out
    finally:
        _stop(attached)
    assert state.stat().st_mode & 0o777 == 0o600
    purse = json.loads(state.read_text())["apps"]
    assert [f["value"] for app in purse.values() for f in app["files"].values() if f["kind"] == "value"] == [0]

    db = str(tmp_path / "books.db")
    usb = tmp_path / "usb"
    assert _stallpay("collector", "init", "--db", db, "--event-id", EVENT).returncode == 0
    for config, role in ((cashier, "cashier"), (vendor, "sale")):
        pairing = _stallpay("collector", "pair", "--db", db, "--role", role)
        assert pairing.returncode == 0, pairing.stderr
        done = _stallpay("sync", "--config", str(config), "pair", "--code", pairing.stdout.strip(), "--to", str(usb))
        assert done.returncode == 0, done.stderr
        assert _stallpay("sync", "--config", str(config), "export", "--to", str(usb)).returncode == 0
    ingested = _stallpay("collector", "ingest", "--db", db, str(usb))
    assert ingested.returncode == 0, ingested.stderr
    summary = json.loads(_stallpay("collector", "report", "summary", "--db", db, "--json").stdout)
    assert (summary["deposited"], summary["spent"], summary["outstanding"]) == (6000, 700, 0), summary
    assert summary["books_balance"] is True, summary
