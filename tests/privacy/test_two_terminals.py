"""Issue 16's audit scenario end to end, on real processes only: one `stallpay collector serve`, a cashier
terminal A and a sale terminal B, each a `stallpay demo` process on its own simulated board (device secret),
driven over their HTTP APIs as their screens drive them; the camera is the demo's simulated one (sample photos).

consent (the guest's answer on A's customer display) -> enroll at A -> top-up -> sync -> pay at B (first use
here: the phone digits are checked by the collector, B holds none) -> B goes off the network -> checkout at A ->
B past the face-sync window refuses face payment (and the erasure report alarms) -> B back on the network ->
template gone everywhere, the carve of every database, WAL and SHM file finds nothing, both confirmations are
recorded, and the books balance.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from sync.collector.face import pending_erasures
from sync.collector.face_gallery import open_at_rest
from sync.collector.storage import open_store
from terminal.device_secret import ENV
from tests.journeys.conftest import (  # noqa: F401  (fixtures: collector, demo_setup, terminals)
    Collector,
    Terminal,
    Terminals,
    books_balance,
    collector,
    demo_setup,
    free_port,
    terminals,
    wait_for,
)
from tests.privacy.conftest import carve, sqlite_files

WINDOW_H = 0.004  # B's face-sync window: 14.4 s, so "offline past the window" takes seconds, not a day
BEER = 450


def _board(tmp_path: Path, name: str) -> dict[str, str]:
    return {ENV: f"file:{tmp_path / 'boards' / name / 'otp-key'}"}


def _login(t: Terminal, operator: str, pin: str) -> None:
    assert t.http.post("/api/login", json={"operator": operator, "pin": pin}).status_code == 200


def _ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _enroll(a: Terminal, photo: str, digits: str) -> str:
    """The cashier asks, the guest agrees on A's customer display, the camera sees `photo`, the face is enrolled."""
    account = _ok(a.http.post("/api/face/consent", json={"language": "en", "agreed": True}))["account_id"]
    token = re.search(r'name="display-token" content="([^"]+)"', a.http.get("/display").text)
    assert token, "A's display page carries no token"
    agreed = a.http.post("/api/display/consent", json={"account_id": account, "agreed": True},
                         headers={"X-Display-Token": token.group(1)})
    assert _ok(agreed)["status"] == "agreed"
    _ok(a.http.post("/sim/api/face", json={"photo": photo}))
    enrolled = _ok(a.http.post("/api/face/enroll", json={"account_id": account, "phone_digits": digits}))
    assert enrolled["outcome"] == "enrolled" and enrolled["collector"] == "sent", enrolled
    return str(account)


def _configure(t: Terminal, section: str, **values: Any) -> None:
    data = tomllib.loads(t.config.read_text())
    data[section] = {**data.get(section, {}), **values}
    t.config.write_text(tomli_w.dumps(data))


def _sealed_row(face_db: Path, account: str) -> bytes:
    with sqlite3.connect(face_db) as conn:
        return bytes(conn.execute("SELECT sealed FROM face_templates WHERE account_id = ?", [account]).fetchone()[0])


def _pay_by_face(b: Terminal, digits: str) -> dict[str, Any]:
    """A beer paid by face at B: the camera sees the guest; a first use here asks for the phone digits."""
    _ok(b.http.post("/sim/api/face", json={"photo": "obama3.jpg"}))
    _ok(b.http.post("/api/cart/add", json={"sku": "BEER", "qty": 1}))
    _ok(b.http.post("/api/face/start", json={"request_id": "privacy-beer"}))
    phase = wait_for(lambda: (p := b.state()["flow"]["phase"]) in ("face_factor", "approved", "declined") and p,
                     "B decides")
    if phase == "face_factor":
        _ok(b.http.post("/api/face/digits", json={"digits": digits}))
        phase = wait_for(lambda: (p := b.state()["flow"]["phase"]) in ("approved", "declined") and p, "B pays")
    flow = b.state()["flow"]
    assert phase == "approved", flow["text"]
    _ok(b.http.post("/api/dismiss", json={}))
    return dict(flow["result"])


def _erasure_report(books: Collector) -> dict[int, dict[str, Any]]:
    return {r["terminal_id"]: r for r in books.report("erasures", "--quiet")}


def test_checkout_erases_everywhere_and_a_stale_terminal_stops(tmp_path: Path, collector: Collector,  # noqa: F811
                                                             terminals: Terminals) -> None:  # noqa: F811
    end = int(time.time()) + 86_400
    settings = json.loads(collector.cli("settings", "--event-end", str(end), "--face-retention-days", "3",
                                        "--face-sync-window-hours", str(WINDOW_H)).stdout)
    assert settings["face_retention_days"] == 3 and settings["event_end"] == end
    a = terminals.start(collector, role="cashier", vendor="Cashier", board=_board(tmp_path, "a"))
    b = terminals.start(collector, role="sale", vendor="Grill", board=_board(tmp_path, "b"))
    a_face, b_face = a.dir / "data" / "face.db", b.dir / "data" / "face.db"
    b.stop()  # B binds a face's first payment here by phone digits (the demo turns that off)
    _configure(b, "camera", bind_on_first_use=True)
    b.start()

    # --- consent and enrollment at A, uploaded sealed for the collector alone; a cash top-up --------------------
    _login(a, "2", "2222")
    guest = _enroll(a, "obama.jpg", "4321")
    other = _enroll(a, "biden.jpg", "")
    _ok(a.http.post("/api/face/topup", json={"account_id": guest, "amount": "20.00", "method": "cash",
                                            "request_id": "privacy-topup"}))
    a.synced()
    store = open_store(collector.db)
    at_rest = wait_for(lambda: store.scalar("SELECT template FROM gallery_changes WHERE account_id = ? "
                                            "AND action = 'put'", [guest]), "the collector holds the template")
    event = tomllib.loads(a.config.read_text())["event"]["id"]
    template = open_at_rest(store, event, guest, at_rest)["template"]
    carried = {"template float32": np.asarray(template, "<f4").tobytes()[:64],
               "sealed at the collector": at_rest[40:104].encode(),
               "sealed at A": _sealed_row(a_face, guest)[12:60]}

    # --- B receives the template (sealed for B), and the guest pays by face there -----------------------------
    wait_for(lambda: _has_row(b_face, guest) and _has_row(b_face, other), "B holds both templates")
    _login(b, "1", "1111")
    paid = _pay_by_face(b, "4321")
    assert paid["amount"] == BEER
    b.stop()  # (B's journal read while no process holds it)
    sale = [e for e in b.journal() if e["op"] == "sale" and e["card_id"] is None][-1]
    assert sale["data"]["second_factor"] == "phone"  # bound by digits the collector checked: B holds none
    b.start()
    carried["sealed at B"] = _sealed_row(b_face, guest)[12:60]
    b.synced()  # the sale reaches the books
    before = carve(sqlite_files(Path(collector.db), a_face, b_face), carried)
    assert {"sealed at A", "sealed at B", "sealed at the collector"} <= set(before), before  # the carver sees them

    # --- B leaves the network; checkout at A: refund, erasure at A and at the collector ---------------------------
    b.stop()
    dead = f"http://127.0.0.1:{free_port()}"
    _configure(b, "collector", url=dead)
    out = _ok(a.http.post("/api/face/checkout", json={"account_id": guest}))
    assert out["refund"] == 2000 - BEER and out["erased"] and out["collector"] == "done", out
    live = sqlite_files(a_face)
    assert len(live) == 3 and carve(live, carried) == {}  # the live WAL too, while A's process holds the gallery

    # --- the report alarms once the erasure is older than the window; B, stale, refuses face pay -----------------
    report = wait_for(lambda: (r := _erasure_report(collector))[2]["alarm"] and r,
                      "the report alarms once the erasure is older than the window")
    assert report[1]["pending"] == 0 and report[2]["pending"] == 1 and report[2]["accounts"] == guest
    assert report[2]["oldest_age_h"] > WINDOW_H and "window" in report[2]["note"]
    b.start()
    assert _has_row(b_face, guest)  # B still holds the template: it has not synced since the checkout
    assert "Sync this terminal" in b.state()["face"]["paused"]
    _login(b, "1", "1111")
    _ok(b.http.post("/api/cart/add", json={"sku": "BEER", "qty": 1}))
    refused = b.http.post("/api/face/start", json={"request_id": "privacy-stale"})
    assert refused.status_code == 409 and refused.json()["code"] == "face_sync_window", refused.text
    _ok(b.http.post("/api/cart/clear", json={}))

    # --- B back on the network: the erasure applied first, confirmed; nothing left to carve ---------------------
    b.stop()
    _configure(b, "collector", url=collector.url)
    b.start()
    wait_for(lambda: not _has_row(b_face, guest), "B erased the template")
    wait_for(lambda: _erasure_report(collector)[2]["pending"] == 0, "B confirmed the erasure")
    assert _has_row(b_face, other) and b.state()["face"]["paused"] == ""
    assert not _erasure_report(collector)[2]["alarm"]
    confirmations = {r["terminal_id"] for r in store.query(
        "SELECT terminal_id FROM face_erasure_confirmations WHERE account_id = ?", [guest])}
    held = store.scalar("SELECT COUNT(*) FROM gallery_changes WHERE account_id = ? AND template IS NOT NULL", [guest])
    assert confirmations == {1, 2} and held == 0
    assert all(guest not in r["accounts"] for r in pending_erasures(store))
    files = sqlite_files(Path(collector.db), *(t.dir / "data" / f for t in (a, b) for f in ("face.db", "journal.db")))
    assert len(files) >= 6
    found = carve(files, carried)
    print(json.dumps({"carved_files": [str(f.relative_to(tmp_path)) for f in files], "needles": sorted(carried),
                      "found": found}))
    assert found == {}
    store.close()
    books_balance(collector, a, b)


def _has_row(face_db: Path, account: str) -> bool:
    if not face_db.exists():
        return False
    with sqlite3.connect(face_db) as conn:
        return conn.execute("SELECT 1 FROM face_templates WHERE account_id = ?", [account]).fetchone() is not None
