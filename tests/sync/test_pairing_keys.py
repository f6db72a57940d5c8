"""Pairing by code: the event keys reach the terminal sealed for it, over plain HTTP, with a one-time code;
then `stallpay provision pair --code --url` against a real `stallpay collector serve`."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.bundle import collector_public_key
from sync.collector.enrollment import new_pairing_code
from sync.collector.event import init_event
from sync.collector.storage import Store, open_store
from sync.format.pairing import PairingFailed, make_request, open_response
from terminal.config import load_keys, new_keys_text, write_config, write_secret_file
from tests.sync.journals import EVENT
from tests.sync.test_serve import _free_port, _wait_ready

MASTER = bytes(range(16))


def _collector_keys(tmp_path: Path) -> Path:
    path = tmp_path / "organizer" / "keys.toml"
    write_secret_file(path, new_keys_text(EVENT, MASTER))
    return path


def _serve(tmp_path: Path, db: Path) -> tuple[Path, str, subprocess.Popen]:
    """A real `stallpay collector serve` on a free port, ready to answer."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stallpay = Path(sys.executable).with_name("stallpay")
    proc = subprocess.Popen([str(stallpay), "collector", "serve", "--db", str(db), "--keys",
                             str(_collector_keys(tmp_path)), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_ready(url, proc)
    return stallpay, url, proc


def _request(code: str, tid: int = 7) -> tuple[dict, object, bytes]:
    return make_request(code, event_id=EVENT, terminal_id=tid, public_key="ab" * 32, name="stall 7")


def test_keys_are_sealed_for_the_holder_of_the_code(tmp_path: Path, store: Store) -> None:
    keys = load_keys(_collector_keys(tmp_path))
    http = TestClient(create_app(store, keys))
    code = new_pairing_code(store, role="sale", vendor="Grill")
    req, eph, key = _request(code)
    resp = http.post("/api/v1/pair/keys", json=req)
    assert resp.status_code == 200 and MASTER.hex() not in resp.text
    payload = open_response(key, eph, req, resp.json())
    assert bytes.fromhex(payload["master_key"]) == MASTER and payload["role"] == "sale"
    assert payload["collector_key"] == collector_public_key(store)
    assert set(payload) == {"event_id", "terminal_id", "role", "vendor", "master_key", "desfire", "collector_key",
                            "bundle", "collector_box_key"}
    from sync.collector.face_gallery import collector_box_public

    assert payload["collector_box_key"] == collector_box_public(store)  # enrollment uploads sealed for it
    # a sale terminal gets the DESFire debit and read keys, never the credit key or the escrow private key
    full = keys.desfire
    assert payload["desfire"] == {k: full[k].hex() for k in ("debit", "read", "escrow_public")}
    cashier_req, cashier_eph, cashier_key = _request(new_pairing_code(store, role="cashier"), tid=9)
    cashier = open_response(cashier_key, cashier_eph, cashier_req,
                            http.post("/api/v1/pair/keys", json=cashier_req).json())
    assert set(cashier["desfire"]) == {"credit", "debit", "read", "escrow_public"}
    # someone in between swapping the collector's key cannot make an answer that opens
    forged = dict(resp.json(), collector_ephemeral=_request(code)[0]["ephemeral_key"])
    with pytest.raises(PairingFailed, match="does not open"):
        open_response(key, eph, req, forged)
    # the same terminal may repeat its request (lost answer); another terminal cannot reuse the code
    assert http.post("/api/v1/pair/keys", json=req).status_code == 200
    other, _, _ = _request(code, tid=8)
    refused = http.post("/api/v1/pair/keys", json=other)
    assert refused.status_code == 403 and "no open pairing code" in refused.json()["detail"]


def test_wrong_expired_or_tampered_requests_are_refused(tmp_path: Path, store: Store) -> None:
    http = TestClient(create_app(store, load_keys(_collector_keys(tmp_path))))
    code = new_pairing_code(store)
    wrong, _, _ = _request("AAAA-BBBB-CCCC")
    assert http.post("/api/v1/pair/keys", json=wrong).status_code == 403
    req, _, _ = _request(code)
    req["ephemeral_key"] = "cd" * 32  # re-targeted to someone else's key: the MAC no longer matches
    assert http.post("/api/v1/pair/keys", json=req).status_code == 403
    store.execute("UPDATE pairing_codes SET expires_at = '2000-01-01T00:00:00+00:00'")
    late, _, _ = _request(code)
    assert "expired" in http.post("/api/v1/pair/keys", json=late).json()["detail"]
    assert http.post("/api/v1/pair/keys", json={"mac": "x"}).status_code == 422


def test_provision_pair_with_code_against_collector_serve(tmp_path: Path) -> None:
    db = tmp_path / "collector.db"
    store = open_store(db)
    init_event(store, EVENT, "EUR")
    code = new_pairing_code(store, role="cashier", vendor="Desk")
    store.close()
    term = tmp_path / "term"
    write_config(term / "terminal.toml", {"event": {"id": EVENT, "currency": "EUR"},
                                          "terminal": {"id": 21, "vendor": "Desk"},
                                          "paths": {"data": "data", "keys": "keys.toml"}})
    stallpay, url, proc = _serve(tmp_path, db)
    try:
        cmd = [str(stallpay), "provision", "pair", "--root", str(tmp_path / "root"), "--config",
               str(term / "terminal.toml"), "--code", code, "--url", url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)  # same terminal, same key: fine
        wrong = subprocess.run([*cmd[:-4], "--code", "AAAA-BBBB-CCCC", "--url", url], capture_output=True,
                               text=True, timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    result = json.loads(done.stdout)
    assert (result["role"], result["terminal_id"], result["bundle"]["face_accounts"]) == ("cashier", 21, 0)
    keys_file = term / "keys.toml"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    raw = tomllib.loads(keys_file.read_text())
    assert raw["event"]["master_key"] == MASTER.hex() and len(raw["event"]["collector_key"]) == 64
    assert load_keys(keys_file, EVENT).master_key == MASTER
    assert json.loads(again.stdout)["terminal_public_key"] == result["terminal_public_key"]
    assert wrong.returncode == 1 and "no open pairing code" in wrong.stderr
    s = open_store(db)
    assert s.scalar("SELECT role FROM terminals WHERE terminal_id = 21") == "cashier"
    assert len(s.scalar("SELECT face_key FROM terminals WHERE terminal_id = 21")) == 64  # key epochs reach it
    # the granted role is the terminal's mode from now on (the wallet enforces it); terminal.toml stays 0640
    assert tomllib.loads((term / "terminal.toml").read_text())["terminal"]["mode"] == "cashier"
    assert stat.S_IMODE((term / "terminal.toml").stat().st_mode) == 0o640


def test_sync_pair_with_url_installs_the_collector_key_so_bundles_carry_face_data(tmp_path: Path) -> None:
    db = tmp_path / "collector.db"
    store = open_store(db)
    init_event(store, EVENT, "EUR")
    code = new_pairing_code(store, role="sale", vendor="Grill")
    store.close()
    term = tmp_path / "stall"
    write_secret_file(term / "keys.toml", new_keys_text(EVENT, MASTER))  # the stall's own key file, no collector key
    write_config(term / "terminal.toml", {"event": {"id": EVENT, "currency": "EUR"},
                                          "terminal": {"id": 22, "vendor": "Grill", "mode": "cashier"},
                                          "paths": {"data": "data", "keys": "keys.toml"}})
    cfg = ["--config", str(term / "terminal.toml")]
    stallpay, url, proc = _serve(tmp_path, db)
    try:
        before = tomllib.loads((term / "keys.toml").read_text())["terminal"]["signing_key"]
        paired = subprocess.run([str(stallpay), "sync", *cfg, "pair", "--code", code, "--url", url],
                                capture_output=True, text=True, timeout=60)
        assert paired.returncode == 0, paired.stderr
        upload = subprocess.run([str(stallpay), "sync", *cfg, "upload", "--url", url], capture_output=True,
                                text=True, timeout=60)
        assert upload.returncode == 0, upload.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    result = json.loads(paired.stdout)
    assert (result["role"], result["terminal_id"]) == ("sale", 22)
    raw = tomllib.loads((term / "keys.toml").read_text())
    assert stat.S_IMODE((term / "keys.toml").stat().st_mode) == 0o600
    assert raw["terminal"]["signing_key"] == before  # the terminal keeps its identity
    assert len(raw["event"]["collector_key"]) == 64
    assert set(raw["desfire"]) == {"debit", "read", "escrow_public"}  # a sale terminal never gets the credit key
    # set up as a cashier point, paired with a sale code: the terminal is a sale terminal now
    assert tomllib.loads((term / "terminal.toml").read_text())["terminal"]["mode"] == "sale"
    bundle = json.loads(upload.stdout)["bundle"]
    assert "face" not in bundle and "collector key unknown" not in upload.stdout  # the face part was applied
    assert (bundle["face_accounts"], bundle["templates_stored"]) == (0, 0)
