"""Expiry at match time and on schedules (clock moved), who can open templates, the erasure report's alarms and
revoked terminals, retention of consents, the face-sync window rule, and the device-secret backends."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from sync.collector.bundle import build_bundle
from sync.collector.enrollment import enroll, revoke
from sync.collector.face import erase_account, pending_erasures, upload_template
from sync.collector.face_gallery import open_at_rest
from sync.collector.face_retention import purge
from sync.collector.storage import Store
from sync.format.face_keys import SealError, band_matches, box_key, open_template, seal_template, transport_key
from terminal.camera.decision import Outcome
from terminal.camera.gallery import Gallery, gallery_key
from terminal.camera.service import FacePay
from terminal.config import CameraSection, load_keys
from terminal.device_secret import ENV, DeviceSecretError, FileSecret, device_secret
from terminal.uplink.face_window import refusal
from terminal.uplink.terminal_side import TerminalSync, open_terminal
from tests.sync.journals import EVENT, configured_terminal

MASTER = bytes(16)
DAY = 86_400


def _vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def _terminal(tmp_path: Path, store: Store, tid: int, role: str, *, face: bool = True) -> TerminalSync:
    cfg, _ = configured_terminal(tmp_path, tid)
    ts = open_terminal(cfg)
    enroll(store, tid, ts.public_key, role=role, vendor="Grill", face_key=ts.face_key if face else "")
    return ts


BAND = "04a1b2c3d4e5f6"


def _upload(store: Store, account: str, seed: int, **kw: object) -> None:
    upload_template(store, MASTER, EVENT, account, seal_template(transport_key(MASTER, EVENT), EVENT, account,
                                                                 list(_vector(seed)), phone_digits="9876",
                                                                 wristband_uid=BAND), **kw)


@pytest.fixture(autouse=True)
def no_board(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "none")


def test_expired_template_never_matches_even_before_the_purge(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    settings = CameraSection(threshold=0.5, threshold_calibrated=True, fmr=1e-6, consent_keep_days=0)
    fp = FacePay(Gallery(tmp_path / "face.db", gallery_key(MASTER, b"\x02" * 32, EVENT)), settings, None,
                 clock=lambda: now[0])
    fp.gallery.put("g-old", _vector(1), expires_at=int(now[0]) + 3600)
    fp.gallery.put("g-new", _vector(2), expires_at=int(now[0]) + 30 * DAY)
    fp.record_consent("g-never", "face-consent-v1/en/sha256:00/7d", "cashier-1")  # consented, never enrolled
    assert fp.decide_on(_vector(1)).account_id == "g-old"
    now[0] += 2 * 3600  # the clock moves past g-old's expiry; no purge has run yet
    decision = fp.decide_on(_vector(1))
    assert decision.account_id is None and decision.outcome is Outcome.NO_MATCH
    assert fp.decide_on(_vector(2)).account_id == "g-new"
    assert "g-old" in fp.gallery  # still stored until the purge, but never matched
    assert fp.purge_expired() == ["g-old"]  # the daily purge: erased, and an erasure to confirm
    assert "g-old" not in fp.gallery and [e.reason for e in fp.pending_erasure_confirmations()] == ["expired"]
    assert not fp.gallery.has_consent("g-never")  # consent_keep_days = 0 (after the enrollment hour)


def test_collector_expires_by_schedule_and_by_command(tmp_path: Path, store: Store, store_target: str,
                                                      capsys: pytest.CaptureFixture) -> None:
    from terminal.cli import main

    assert main(["collector", "settings", "--db", store_target, "--event-end", "2026-08-09T23:00",
                 "--face-retention-days", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["event_end"] == int(datetime(2026, 8, 9, 23, tzinfo=UTC).timestamp())
    _upload(store, "g-exp", 3, holder="Ada")
    expiry = store.scalar("SELECT expires_at FROM gallery_changes WHERE account_id = 'g-exp'")
    assert expiry >= int(time.time()) + 2 * DAY - 5  # retention counts from the event end (or now, if later)
    assert store.query("SELECT holder FROM face_accounts WHERE holder <> ''") == [{"holder": "Ada"}]
    assert purge(store)["expired"] == []  # the event ended in August: its retention is long over
    assert store.query("SELECT holder FROM face_accounts WHERE holder <> ''") == []  # names go after retention
    moved = datetime.fromtimestamp(expiry + 1, UTC)  # the clock moved past the expiry: the hourly purge erases it
    assert purge(store, moved)["expired"] == ["g-exp"]
    assert store.scalar("SELECT COUNT(*) FROM gallery_changes WHERE account_id = 'g-exp' AND action = 'put'") == 0
    _upload(store, "g-past", 4, expires_at=int(time.time()) - 1)
    assert main(["collector", "face", "expire", "--db", store_target]) == 0
    assert json.loads(capsys.readouterr().out)["expired"] == ["g-past"]
    # long after retention ended (event end + 2 + 30 days): old erasure records go, closed accounts lose names
    store.execute("UPDATE gallery_changes SET changed_at = '2026-08-10T00:00:00.000Z' WHERE account_id = 'g-exp'")
    assert purge(store)["forgotten"] >= 1
    assert [r["account_id"] for r in store.query("SELECT account_id FROM gallery_changes WHERE action = 'erase'")] \
        == ["g-past"]  # recent erasures stay until erasure_keep_days passed
    assert main(["collector", "settings", "--db", store_target, "--face-sync-window-hours", "0"]) == 1
    assert "between" in capsys.readouterr().err


def test_a_sale_terminal_cannot_open_templates_not_sealed_for_it(tmp_path: Path, store: Store) -> None:
    cashier = _terminal(tmp_path, store, 1, "cashier")
    stall = _terminal(tmp_path, store, 2, "sale")
    admin = _terminal(tmp_path, store, 3, "admin")
    old = _terminal(tmp_path, store, 4, "sale", face=False)  # enrolled without a box key
    keys = load_keys(cashier.config.keys_path)
    _upload(store, "g1", 1)
    at_rest = store.scalar("SELECT template FROM gallery_changes WHERE account_id = 'g1'")
    with pytest.raises(SealError):  # the collector's copy does not open with the event keys
        open_template(transport_key(MASTER, EVENT), EVENT, "g1", at_rest)
    kept = open_at_rest(store, EVENT, "g1", at_rest)  # at rest: no digits (their hash is on the account row)
    assert kept["phone_digits"] == "" and kept["phone_online"] and kept["wristband_uid"].startswith("b1$")
    bodies = {t: build_bundle(store, keys, terminal_id=t)["body"]["face"] for t in (1, 2, 3, 4)}
    assert [c["action"] for c in bodies[3]["gallery"]] == [] == [c["action"] for c in bodies[4]["gallery"]]
    put_b = next(c for c in bodies[2]["gallery"] if c["action"] == "put")
    put_a = next(c for c in bodies[1]["gallery"] if c["action"] == "put")
    peer = bodies[2]["box_key"]
    got = open_template(box_key(stall.box, peer, EVENT, 2), EVENT, "g1", put_b["template"])
    # what matching needs, nothing more: no phone digits (the collector checks typed digits online), and the band
    # only as a salted slow hash that a tap can be checked against
    assert got["template"] and got["phone_digits"] == "" and got["phone_online"] is True
    assert BAND not in json.dumps(got) and band_matches(got["wristband_uid"], BAND.upper())
    assert not band_matches(got["wristband_uid"], "04a1b2c3d4e5f7")
    for key in (transport_key(MASTER, EVENT), box_key(stall.box, peer, EVENT, 2), box_key(admin.box, peer, EVENT, 3),
                box_key(old.box, peer, EVENT, 4), box_key(stall.box, peer, EVENT, 1)):
        with pytest.raises(SealError):  # A's copy: only A opens it
            open_template(key, EVENT, "g1", put_a["template"])
    # the whole USB bundle (no terminal named) carries no template, and is written 0600
    assert [c for c in build_bundle(store, keys)["body"]["face"]["gallery"] if c["action"] == "put"] == []
    from terminal.cli import main

    target = store.path if store.dialect == "sqlite" else None  # type: ignore[attr-defined]
    if target:
        assert main(["collector", "bundle", "--db", target, "--keys", str(cashier.config.keys_path), "--to",
                     str(tmp_path / "usb"), "--terminal", "2"]) == 0
        written = tmp_path / "usb" / "bundle-t00002.json"
        assert written.stat().st_mode & 0o777 == 0o600
        body = json.loads(written.read_text())["body"]["face"]
        assert [c["account_id"] for c in body["gallery"] if c["action"] == "put"] == ["g1"]


def test_a_revoked_terminal_stays_on_the_erasure_report(tmp_path: Path, store: Store, store_target: str,
                                                        capsys: pytest.CaptureFixture) -> None:
    from terminal.cli import main

    _terminal(tmp_path, store, 1, "cashier")
    _terminal(tmp_path, store, 2, "sale")
    _upload(store, "g9", 9)
    erase_account(store, "g9", "request", by="organizer")
    assert main(["collector", "revoke", "--db", store_target, "--terminal", "2"]) == 0
    capsys.readouterr()
    assert main(["collector", "report", "erasures", "--db", store_target, "--json", "--quiet"]) == 0
    rows = {r["terminal_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {1, 2}
    assert rows[2]["status"] == "revoked" and rows[2]["note"] == "holds templates, unreachable" and rows[2]["alarm"]
    assert rows[1]["pending"] == 1 and not rows[1]["alarm"]  # fresh: within the window
    later = datetime.now(UTC) + timedelta(hours=25)
    aged = {r["terminal_id"]: r for r in pending_erasures(store, later)}
    assert aged[1]["alarm"] and aged[1]["oldest_age_h"] >= 25 and "24 h window" in aged[1]["note"]
    revoke(store, 1)
    store.execute("INSERT INTO face_erasure_confirmations (account_id, terminal_id, confirmed_at) "
                  "VALUES ('g9', 1, 'x')")
    assert [r["terminal_id"] for r in pending_erasures(store)] == [2]  # confirmed before revocation: off the list


def test_face_sync_window_rule() -> None:
    assert refusal(None, 1000.0, 3600, None) == ""  # never synced: only its own enrollments, erased locally
    assert refusal(1000.0, 1000.0 + 3599, 3600, None) == ""
    assert "paused" in refusal(1000.0, 1000.0 + 3601, 3600, None)
    assert "retention period is over" in refusal(1000.0, 2000.0, 3600, until=1500)


def test_device_secret_backends(tmp_path: Path) -> None:
    path = tmp_path / "board" / "otp"
    first = FileSecret(path).read()
    assert len(first) == 32 and FileSecret(path).read() == first and path.stat().st_mode & 0o777 == 0o600
    assert device_secret(f"file:{path}").read() == first
    assert device_secret("none").read() == b""
    assert device_secret("auto").read() in (b"",) or os.path.exists("/usr/bin/rpi-otp-private-key")
    with pytest.raises(DeviceSecretError):
        device_secret("tpm")
    path.write_bytes(b"short")
    with pytest.raises(DeviceSecretError):
        FileSecret(path).read()
    # the gallery key depends on the board: the same SD card on another board (or none) does not open it
    assert gallery_key(MASTER, b"\x02" * 32, EVENT, first) != gallery_key(MASTER, b"\x02" * 32, EVENT)
