"""Uploads checked in worker processes (collector.ingest_pool): the same answers, exactly once, reconciled; the workers
never outlive the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.enrollment import enroll, get_terminal, new_pairing_code
from sync.collector.event import init_event
from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import hotlist, reconcile_pending
from sync.collector.storage import Store, open_store
from sync.collector.summary import summary
from sync.format.batch import encode, make_batch
from terminal.config import load_keys
from terminal.uplink.client import CollectorClient
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import EVENT, configured_terminal
from tests.sync.test_serve import _free_port, _wait_ready


def test_uploads_through_worker_processes_store_once_and_reconcile(tmp_path: Path, store: Store,
                                                                   store_target: str) -> None:
    cfg1, t1 = configured_terminal(tmp_path, 1)
    cfg2, t2 = configured_terminal(tmp_path, 2)
    t1.cards = t2.cards  # one festival's wristbands
    t1.book("issue", 5, 5000, method="cash")
    t1.book("sale", 5, 1000)
    t2.book("sale", 5, 2000, card_seq=2, balance_before=5000)  # a clone of card 5 spent at terminal 2
    for i in range(30):
        t1.book("sale", 5, 1 + i % 3) if i % 2 else t2.book("issue", 100 + i, 100, method="cash")
    keys = load_keys(cfg1.parent / "keys.toml")
    # the app opens the database by name, so the worker reconciles through its own connection
    with TestClient(create_app(store_target, keys, ingest_workers=1)) as http:
        for cfg in (cfg1, cfg2):
            ts = open_terminal(cfg)
            client = CollectorClient("http://testserver", ts, http=http, sleep=lambda s: None)
            client.batch_size = 7
            client.pair(new_pairing_code(store, vendor="Grill"))
            assert client.sync_once()["acked_seq"] == ts.journal.head()[0]
        # entries already stored are not stored again; hostile bytes are refused with a reason, never a server error
        again = make_batch(t1.journal.export()[:3], t1.key)
        answer = _signed_post(http, cfg1, encode(again))
        assert answer.status_code == 200 and answer.json()["new_entries"] == 0
        answer = _signed_post(http, cfg1, b"SPB1" + b"[" * 300)
        assert answer.status_code == 422 and answer.json()["detail"]
    # the same as the thread path (ingest_bytes, then reconcile) gives on a fresh collector
    reference = open_store(tmp_path / "reference.db")
    init_event(reference, EVENT, "EUR")
    for cfg, term in ((cfg1, t1), (cfg2, t2)):
        tid = term.journal.terminal_id
        enroll(reference, tid, open_terminal(cfg).public_key, role=get_terminal(store, tid)["role"])
        for b in batches(term.journal, term.key, batch_size=7):
            assert ingest_bytes(reference, encode(b)).ok
    reconcile_pending(reference)
    got, want = _outcome(store), _outcome(reference)
    assert got == want
    assert got["entries"] == t1.journal.head()[0] + t2.journal.head()[0] == got["rows"]
    assert (5, "clone") in got["anomalies"] and 5 in got["hotlist"]
    assert store.scalar("SELECT COUNT(*) FROM reconcile_pending") == 0
    assert store.scalar("SELECT COUNT(*) FROM reconcile_batches") == 0


def _outcome(store: Store) -> dict:
    s = summary(store, check_cards=True)
    return {"entries": s["entries"], "rows": store.scalar("SELECT COUNT(*) FROM entries"),
            "books_balance": s["books_balance"], "outstanding": s["outstanding"],
            "hotlist": [c for c, _reason in hotlist(store)],  # the reason: the first finding, which order decides
            "anomalies": sorted((r["card_id"], r["kind"]) for r in store.query("SELECT card_id, kind FROM anomalies"))}


def _signed_post(http: TestClient, cfg: Path, body: bytes):  # type: ignore[no-untyped-def]
    from tests.sync.test_api import _signed

    ts = open_terminal(cfg)
    return http.post("/api/v1/batches", content=body, headers={
        **_signed(ts, "POST", "/api/v1/batches", body), "Content-Type": "application/octet-stream"})


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_with_a_killed_server(tmp_path: Path) -> None:
    db = tmp_path / "collector.db"
    init_event(open_store(db), EVENT, "EUR")
    cfg, _term = configured_terminal(tmp_path, 9)
    port = _free_port()
    log = (tmp_path / "serve.log").open("ab")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("stallpay")), "collector", "serve", "--db", str(db),
                             "--keys", str(cfg.parent / "keys.toml"), "--port", str(port), "--ingest-workers", "2"],
                            stdout=log, stderr=log)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc, deadline_s=60)  # the workers are up before it listens
        workers = [p for p in _children(proc.pid) if _alive(p)]
        assert len(workers) >= 2, (tmp_path / "serve.log").read_text()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)  # the workers poll their parent every 0.2 s
        assert not [p for p in workers if _alive(p)], "ingest workers outlived the killed server"
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
