"""Issue 16's audit scenario end to end: one collector (`stallpay collector serve`, a real process), a cashier
terminal A and a sale terminal B on their own simulated boards (device secrets), syncing with `stallpay sync
upload` as processes; the face steps run the real face models on sample photos.

consent -> enroll at A -> sync -> pay at B -> checkout at A -> B offline past the face-sync window refuses face
payment (and the erasure report alarms) -> B syncs -> template gone everywhere, the carve finds nothing in any
database, WAL or SHM file, and both confirmations are recorded; the books balance.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

from sync.format.face_consent import consent_record_id
from sync.format.face_keys import SealError, open_template, transport_key
from terminal.camera.decision import Outcome
from terminal.camera.frames import Frame
from terminal.camera.gallery import GalleryError
from terminal.camera.service import EnrollOutcome
from terminal.config import new_keys_text, write_config, write_secret_file
from terminal.device_secret import ENV
from terminal.uplink.client import CollectorClient
from terminal.uplink.terminal_side import TerminalSync, open_terminal
from terminal.wallet.face_accounts import FaceAccounts
from tests.privacy.conftest import carve, sqlite_files
from tests.sync.journals import EVENT

GUEST, OTHER = "F1-guest", "F1-other"
WINDOW_H = 0.004  # B's face-sync window: 14.4 s, so "offline past the window" takes seconds, not a day
STALLPAY = str(Path(sys.executable).with_name("stallpay"))


def run(*args: str, board: dict[str, str] | None = None) -> str:
    done = subprocess.run([STALLPAY, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(board or {})})
    assert done.returncode == 0, f"stallpay {' '.join(args)}: {done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Any, deadline_s: float = 40) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)  # polling interval, bounded by the deadline
    raise AssertionError(f"not within {deadline_s} s: {what}")


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """(url, database, key file) of a collector serving on a free port."""
    db, keys = tmp_path / "collector" / "collector.db", tmp_path / "collector" / "keys.toml"
    write_secret_file(keys, new_keys_text(EVENT, bytes(16)))
    run("collector", "init", "--db", str(db), "--event-id", EVENT)
    port = _free_port()
    proc = subprocess.Popen([STALLPAY, "collector", "serve", "--db", str(db), "--keys", str(keys), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx

    def up() -> bool:
        assert proc.poll() is None, "collector exited"
        try:
            return httpx.get(f"{url}/api/v1/time", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for("collector serving", up)
        yield url, db, keys
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def terminal(tmp_path: Path, tid: int, name: str, camera: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """A terminal's configuration on its own board: (terminal.toml, the environment naming its device secret)."""
    d = tmp_path / name
    write_secret_file(d / "keys.toml", new_keys_text(EVENT, bytes(16)))
    write_config(d / "terminal.toml", {"event": {"id": EVENT, "currency": "EUR"},
                                       "terminal": {"id": tid, "vendor": "Grill"},
                                       "paths": {"data": "data", "keys": "keys.toml"},
                                       "camera": {"threshold": 0.5, "threshold_calibrated": True, "fmr": 1e-6,
                                                  **camera}})
    return d / "terminal.toml", {ENV: f"file:{tmp_path / 'boards' / name / 'otp-key'}"}


def on_board(board: dict[str, str], cfg: Path) -> TerminalSync:
    os.environ[ENV] = board[ENV]  # the in-process steps run "on" that board
    return open_terminal(cfg)


def pair(url: str, db: Path, cfg: Path, board: dict[str, str], role: str) -> None:
    code = run("collector", "pair", "--db", str(db), "--role", role, "--vendor", "Grill").strip()
    ts = on_board(board, cfg)
    payload = CollectorClient(url, ts, attempts=2, backoff_s=0.1).pair_keys(code)
    keys = cfg.parent / "keys.toml"
    data = tomllib.loads(keys.read_text())
    data["event"]["collector_key"] = payload["collector_key"]  # what provisioning installs
    write_secret_file(keys, tomli_w.dumps(data))
    done(ts)


def done(ts: TerminalSync) -> None:
    """Close what the in-process steps opened (the CLI processes open the same files next)."""
    if ts.face is not None:
        ts.face.gallery.close()
    ts.journal.db.close()


def sealed_row(face_db: Path, account: str) -> bytes:
    """The guest's sealed row as it is on disk now (a re-put from a bundle replaces the blob)."""
    with sqlite3.connect(face_db) as conn:
        return bytes(conn.execute("SELECT sealed FROM face_templates WHERE account_id = ?", [account]).fetchone()[0])


def sync(cfg: Path, board: dict[str, str], url: str) -> dict[str, Any]:
    return json.loads(run("sync", "upload", "--config", str(cfg), "--url", url, board=board))


def test_checkout_erases_everywhere_and_a_stale_terminal_stops(tmp_path: Path, collector: tuple[str, Path, Path],
                                                             still_pipeline: Any, image: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url, db, _ = collector
    monkeypatch.setenv(ENV, "none")
    end = int(time.time()) + 86_400
    settings = json.loads(run("collector", "settings", "--db", str(db), "--event-end", str(end),
                              "--face-retention-days", "3", "--face-sync-window-hours", str(WINDOW_H)))
    assert settings["face_retention_days"] == 3 and settings["event_end"] == end
    cfg_a, board_a = terminal(tmp_path, 1, "a", {})
    cfg_b, board_b = terminal(tmp_path, 2, "b", {"face_sync_window_h": WINDOW_H})
    pair(url, db, cfg_a, board_a, "cashier")
    pair(url, db, cfg_b, board_b, "sale")
    sync(cfg_a, board_a, url)  # A learns the collector's box key: its uploads are sealed for the collector alone
    carried: dict[str, bytes] = {}  # every sealed form the guest's template took, to carve for at the end

    # --- consent and enrollment at A (the cashier), upload sealed for the collector ----------------------------
    a = on_board(board_a, cfg_a)
    fp_a = a.face_pay()
    fp_a.pipeline = still_pipeline
    text = "I agree ... erased at checkout, or 3 days after the event at the latest."
    fp_a.record_consent(GUEST, consent_record_id("face-consent-v1", "en", text, 3), "cashier-2")
    enrolled = fp_a.enroll(GUEST, [Frame(image("obama.jpg"), i) for i in range(3)], phone_digits="4321")
    assert enrolled.outcome is EnrollOutcome.ENROLLED
    fp_a.record_consent(OTHER, consent_record_id("face-consent-v1", "en", text, 3), "cashier-2")
    other = fp_a.enroll(OTHER, [Frame(image("biden.jpg"), i) for i in range(3)])
    assert other.outcome is EnrollOutcome.ENROLLED
    client_a = CollectorClient(url, a, attempts=2, backoff_s=0.1)
    for account, result in ((GUEST, enrolled), (OTHER, other)):
        upload = a.seal_enrollment(account, result.template, "4321" if account == GUEST else "")
        with pytest.raises(SealError):  # not with the event keys every terminal holds
            open_template(transport_key(a.keys.master_key, EVENT), EVENT, account, upload)
        if account == GUEST:
            carried["upload"] = upload[40:104].encode()
        client_a.upload_enrollment(account, upload)
    FaceAccounts(a.journal).topup(GUEST, 2000, method="cash", operator="cashier-2")
    carried["template float32"] = np.asarray(enrolled.template, "<f4").tobytes()[:64]
    done(a)
    assert sync(cfg_a, board_a, url)["batches"] >= 1
    # the SD card alone (no board secret) does not open A's gallery
    from terminal.camera.gallery import Gallery, gallery_key

    with pytest.raises(GalleryError):
        Gallery(a.config.data_dir / "face.db", gallery_key(a.keys.master_key, a.keys.terminal_signing_key, EVENT))

    # --- B syncs (templates sealed for B) and the guest pays by face at B ------------------------------------
    got = sync(cfg_b, board_b, url)["bundle"]
    assert got["templates_stored"] == 2, got
    b = on_board(board_b, cfg_b)
    fp_b = b.face_pay()
    fp_b.pipeline = still_pipeline
    probe_img = image("obama3.jpg")
    probe = still_pipeline.embed(probe_img, still_pipeline.observe(probe_img).faces[0])
    decision = fp_b.decide_on(probe)
    assert decision.account_id == GUEST and decision.outcome in (Outcome.ACCEPT, Outcome.SECOND_FACTOR), decision
    FaceAccounts(b.journal, allowance=5000).sale(GUEST, 450, score=decision.score, second_factor=None,
                                                 operator="vendor-1")
    carried["sealed at B"] = sealed_row(b.config.data_dir / "face.db", GUEST)[12:60]
    done(b)
    sync(cfg_b, board_b, url)  # the sale reaches the books
    with sqlite3.connect(db) as conn:
        at_rest = conn.execute("SELECT template FROM gallery_changes WHERE account_id = ?", [GUEST]).fetchone()[0]
    carried["sealed at the collector"] = at_rest[40:104].encode()
    carried["sealed at A"] = sealed_row(cfg_a.parent / "data" / "face.db", GUEST)[12:60]
    before = carve(sqlite_files(db), carried) | carve(sqlite_files(a.config.data_dir / "face.db"), carried) | \
        carve(sqlite_files(b.config.data_dir / "face.db"), carried)
    assert {"sealed at A", "sealed at B", "sealed at the collector"} <= set(before), before  # the carver sees them

    # --- checkout at A: refund, erasure here and at the collector --------------------------------------------
    a = on_board(board_a, cfg_a)
    client_a = CollectorClient(url, a, attempts=2, backoff_s=0.1)
    answer = client_a.checkout_face(GUEST)
    assert answer["refund"] == 2000 - 450
    FaceAccounts(a.journal).checkout(GUEST, answer["refund"], operator="cashier-2")
    assert a.face_pay().erase(GUEST, "checkout")
    live = sqlite_files(a.config.data_dir / "face.db")
    assert len(live) == 3 and carve(live, carried) == {}  # the live WAL too, while A's gallery is open
    done(a)
    sync(cfg_a, board_a, url)

    # --- B, offline past the window, refuses face payment and says why; the report alarms --------------------
    b = on_board(board_b, cfg_b)
    fp_b = b.face_pay()
    fp_b.pipeline = still_pipeline
    assert GUEST in fp_b.gallery  # B still holds the template: it has not synced since the checkout
    reason = wait_for("B refuses face pay", fp_b.refusal)
    assert "paused" in reason and "Sync this terminal" in reason
    refused = fp_b.decide_on(probe)
    assert refused.outcome is Outcome.UNAVAILABLE and refused.account_id is None
    done(b)
    def erasure_report() -> dict[int, dict]:
        return {r["terminal_id"]: r for r in json.loads(run("collector", "report", "erasures", "--db", str(db),
                                                            "--json", "--quiet"))}

    report = wait_for("the report alarms once the erasure is older than the window",
                      lambda: (r := erasure_report())[2]["alarm"] and r)
    assert report[1]["pending"] == 0 and report[2]["pending"] == 1 and report[2]["accounts"] == GUEST
    assert report[2]["oldest_age_h"] > WINDOW_H and "window" in report[2]["note"]

    # --- B syncs: the erasure is applied first, confirmed, and nothing is left to carve ----------------------
    assert sync(cfg_b, board_b, url)["bundle"]["templates_erased"] == 1
    assert sync(cfg_b, board_b, url)["erasures_confirmed"] == 1  # uploads come before the bundle in a sync
    b = on_board(board_b, cfg_b)
    fp_b = b.face_pay()
    assert GUEST not in fp_b.gallery and OTHER in fp_b.gallery and fp_b.refusal() == ""
    done(b)
    report = erasure_report()
    assert report[2]["pending"] == 0 and not report[2]["alarm"]
    with sqlite3.connect(db) as conn:
        confirmations = {r[0] for r in conn.execute(
            "SELECT terminal_id FROM face_erasure_confirmations WHERE account_id = ?", [GUEST])}
        held = conn.execute("SELECT COUNT(*) FROM gallery_changes WHERE account_id = ? AND template IS NOT NULL",
                            [GUEST]).fetchone()[0]
    assert confirmations == {1, 2} and held == 0
    files = sqlite_files(db, *(d / "data" / f for d in (cfg_a.parent, cfg_b.parent)
                               for f in ("face.db", "journal.db")))
    assert len(files) >= 6
    found = carve(files, carried)
    print(json.dumps({"carved_files": [str(f.relative_to(tmp_path)) for f in files],
                      "needles": sorted(carried), "found": found}))
    assert found == {}
    summary = json.loads(run("collector", "report", "summary", "--db", str(db), "--json", "--quiet"))
    assert summary["books_balance"] is True
