"""The kiosk's HTTP API on a terminal enrolled for sales: even a supervisor cannot issue, top up, give
complimentary credit or close a card there (the wallet's policy answers), sales go on, and the books balance."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.enrollment import enroll
from sync.collector.event import init_event
from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import reconcile
from sync.collector.storage import open_store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.keys import public_hex
from terminal.uplink.export import batches
from tests.ui.conftest import DemoServer, serve_demo


@pytest.fixture
def stall(demo_template: Path, tmp_path: Path, face_pipeline: Any) -> Iterator[DemoServer]:
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    config = folder / "terminal.toml"
    data = tomllib.loads(config.read_text())
    data["terminal"]["mode"] = "sale"
    config.write_text(tomli_w.dumps(data))
    with serve_demo(config, face_pipeline) as server:
        yield server


REFUSED = [
    ({"kind": "issue", "amount": "15", "method": "cash"}, "issue wristbands"),
    ({"kind": "topup", "amount": "10", "method": "cash"}, "top up"),
    ({"kind": "topup", "amount": "400", "method": "comp"}, "give complimentary credit"),
    ({"kind": "close", "method": "cash"}, "refund or close cards"),
]


def test_a_sale_terminal_refuses_every_credit_and_refund_over_http(stall: DemoServer, tmp_path: Path) -> None:
    with stall.client() as c:
        stall.login(c, "9", "9999")  # a supervisor: the role may, the terminal may not
        assert c.post("/api/mode", json={"value": "cashier"}).status_code == 200
        for i, (body, what) in enumerate(REFUSED):
            answer = c.post("/api/start", json={**body, "request_id": f"r{i}"})
            assert answer.status_code == 403, answer.text
            assert answer.json()["code"] == "not_permitted_mode" and what in answer.json()["message"]
            assert c.get("/api/state").json()["flow"]["phase"] == "idle"
            stall.tap("alice")  # a tap now only shows the balance
        assert c.get("/api/state").json()["balance"]["balance"] == 5000
        assert c.post("/api/mode", json={"value": "sale"}).status_code == 200
        assert c.post("/api/cart/add", json={"sku": "BEER"}).status_code == 200
        assert c.post("/api/charge", json={"request_id": "s1"}).json() == {"started": True}
        stall.tap("alice")
        assert c.get("/api/state").json()["flow"]["result"]["balance_after"] == 4550
    journal = stall.kiosk.journal
    assert not [e for e in journal.entries() if e["op"] in ("issue", "topup", "close") and e["operator"] != "setup"]
    refusals = [e["data"]["code"] for e in journal.entries() if e["op"] == "decline"]
    assert refusals.count("not_permitted_mode") == len(REFUSED)

    store = open_store(tmp_path / "books.db")
    try:
        init_event(store, stall.kiosk.config.event.id, "EUR")
        key = Ed25519PrivateKey.from_private_bytes(stall.kiosk.station.keys.terminal_signing_key)
        enroll(store, stall.kiosk.config.terminal.id, public_hex(key), role="admin")
        for batch in batches(journal, key):
            assert ingest_bytes(store, encode(batch)).ok
        reconcile(store)
        books = summary(store)
    finally:
        store.close()
    assert books["books_balance"] and books["spent"] == 450
