"""Two events on one collector never mix: each has its own books, dashboard, card pages, card search, reports
and bundles, even with the same terminal and card ids; a terminal of the second event pairs and uploads
through `/e/<event>/` with signed requests. On SQLite and PostgreSQL (a schema per event)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.enrollment import new_pairing_code
from sync.collector.event_registry import event_target
from sync.collector.ingest import ingest_many
from sync.collector.storage import Store, open_store
from sync.collector.summary import summary
from terminal.config import EventKeys, write_config, write_secret_file
from terminal.uplink.client import CollectorClient
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import EVENT, Cards, Term, make_terminal
from tests.sync.office_client import office_login as _login

PASSWORD = "correct horse 1"
SECOND = "second-event"


def _deposited(client: TestClient, event: str) -> int:
    page = client.get(f"/?event={event}").text
    found = re.search(r'id="fig-deposited" data-minor="(\d+)"', page)
    assert found, page[:500]
    return int(found.group(1))


def test_two_events_never_mix(store: Store, store_target: str, tmp_path: Path) -> None:
    # event 1: terminal 1 issues card 1 and sells beer
    cards = Cards()
    t1 = make_terminal(tmp_path, 1, cards, store)
    t1.book("issue", 1, 5000, method="cash")
    t1.book("sale", 1, 450, items=[{"sku": "B", "name": "Beer", "qty": 1, "unit_price": 450}])
    ingest_many(store, [("x", b) for b in _encoded(t1)], workers=0)
    set_user(store, "admin", PASSWORD, role="admin")
    set_user(store, "support", PASSWORD, role="support")
    keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
    app = create_app(store, keys, events_dir=tmp_path / "keys")
    admin, csrf = _login(app, "admin")

    # the admin creates the second event; a support account may not
    support, support_csrf = _login(app, "support")
    assert support.post("/events", data={"csrf": support_csrf, "event_id": "nope", "currency": "EUR"}
                        ).status_code == 403
    answer = admin.post("/events", data={"csrf": csrf, "event_id": SECOND, "name": "Winter fair",
                                         "currency": "eur", "starts": "2026-12-10", "ends": "2026-12-12"})
    assert answer.status_code == 200 and "Event created" in answer.text
    assert admin.post("/events", data={"csrf": csrf, "event_id": SECOND, "currency": "EUR"}).status_code == 422
    assert admin.post("/events", data={"csrf": csrf, "event_id": "Bad Id", "currency": "EUR"}).status_code == 422
    keys_file = tmp_path / "keys" / f"keys-{SECOND}.toml"
    assert keys_file.stat().st_mode & 0o777 == 0o600
    second = open_store(event_target(store_target, SECOND))

    # event 2: its own terminal 1 pairs and uploads over HTTP under /e/second-event/, card 1 holds 9000
    d = tmp_path / "e2t1"
    write_secret_file(d / "keys.toml", keys_file.read_text())
    write_config(d / "terminal.toml", {"event": {"id": SECOND, "currency": "EUR"},
                                       "terminal": {"id": 1, "vendor": "Bar"},
                                       "paths": {"data": "data", "keys": "keys.toml"}})
    ts = open_terminal(d / "terminal.toml")
    http = TestClient(app, base_url=f"http://testserver/e/{SECOND}")
    client = CollectorClient(f"http://testserver/e/{SECOND}", ts, http=http, attempts=1)
    assert client.pair(new_pairing_code(second, role="cashier", vendor="Bar"))["role"] == "cashier"
    t2 = Term(journal=ts.journal, key=ts.key, cards=Cards())
    t2.book("issue", 1, 9000, method="card")
    t2.book("sale", 1, 300, items=[{"sku": "C", "name": "Cola", "qty": 1, "unit_price": 300}])
    assert client.sync_once()["bundle"]
    assert int(second.scalar("SELECT COUNT(*) FROM entries")) == 4
    assert int(store.scalar("SELECT COUNT(*) FROM entries")) == 4  # event 1 untouched: its own 4 entries

    # dashboards, card pages, search, reports: each event's own
    assert _deposited(admin, EVENT) == 5000 and _deposited(admin, SECOND) == 9000
    assert "€45.50" in admin.get(f"/cards/1?event={EVENT}").text
    assert "€87.00" in admin.get(f"/cards/1?event={SECOND}").text
    assert admin.get(f"/cards?q=1&event={SECOND}").headers["location"] == "/cards/1"
    products = {ev: admin.get(f"/reports/products?format=csv&event={ev}").text for ev in (EVENT, SECOND)}
    assert "Beer" in products[EVENT] and "Cola" not in products[EVENT]
    assert "Cola" in products[SECOND] and "Beer" not in products[SECOND]
    assert "Bar" not in admin.get(f"/terminals?event={EVENT}").text
    # reports narrow further by terminal, vendor, day and hour; a malformed filter is refused
    other_vendor = admin.get(f"/reports/products?format=csv&event={SECOND}&vendor=Grill")  # event 1's vendor
    assert other_vendor.status_code == 422 and "no vendor named 'Grill' in this event" in other_vendor.text
    assert "Cola" in admin.get(f"/reports/products?format=csv&event={SECOND}&vendor=Bar&terminal=1").text
    assert admin.get(f"/reports/products?event={SECOND}&hour=99").status_code == 422
    assert admin.post(f"/terminals/1/venue?event={SECOND}", data={"csrf": csrf, "venue": "Bar tent"}
                      ).status_code == 303
    assert "Cola" in admin.get(f"/reports/products?format=csv&event={SECOND}&venue=Bar+tent").text
    assert admin.get(f"/reports/products?format=csv&event={EVENT}&venue=Bar+tent").status_code == 422
    # the cookie chooses the event for every page
    chosen = admin.get(f"/events/{SECOND}/select")
    assert chosen.status_code == 303 and _deposited(admin, SECOND) == 9000
    assert re.search(r'id="fig-deposited" data-minor="9000"', admin.get("/").text)
    assert admin.get("/events/no-such-event/select").status_code == 404

    # a band blocked in event 2 is in event 2's bundles only
    assert admin.post(f"/cards/1/block?event={SECOND}", data={"csrf": csrf, "reason": "lost"}).status_code == 303
    bundles = {ev: json.loads(admin.get(f"/terminals/1/bundle?event={ev}").content)["body"] for ev in (EVENT, SECOND)}
    assert bundles[SECOND]["event_id"] == SECOND and [1, "lost"] in bundles[SECOND]["hotlist"]
    assert bundles[EVENT]["event_id"] == EVENT and bundles[EVENT]["hotlist"] == []
    assert client.sync_once()["bundle"]
    from terminal.wallet.hotlist import Hotlist

    assert 1 in Hotlist(ts.journal.db)
    audit = store.query("SELECT detail FROM audit_log WHERE action = 'card blocked'")
    assert [json.loads(r["detail"])["event"] for r in audit] == [SECOND]
    for s in (store, second):
        books = summary(s)
        assert books["books_balance"], books
    assert summary(store)["deposited"] == 5000 and summary(second)["deposited"] == 9000
    second.close()


def _encoded(term: Term) -> list[bytes]:
    from sync.format.batch import encode

    return [encode(b) for b in batches(term.journal, term.key, batch_size=10)]


def test_events_cli_and_api_tokens_of_the_home_database(store: Store, store_target: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from sync.collector.backoffice.accounts import new_token

    stallpay = str(Path(sys.executable).with_name("stallpay"))
    env = {**os.environ}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([stallpay, "collector", "events", *args, "--db", store_target], env=env,
                              capture_output=True, text=True, timeout=60)

    keys_dir = tmp_path / "keys"
    set_user(store, "viewer", PASSWORD, role="readonly")
    set_user(store, "admin", PASSWORD, role="admin")
    keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
    api = TestClient(create_app(store, keys, events_dir=keys_dir))  # serving already: it finds the event added
    added = cli("add", "--keys-dir", str(keys_dir), "--event-id", "winter", "--name", "Winter fair",
                "--currency", "eur", "--starts", "2026-12-10", "--ends", "2026-12-12")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["event_id"] == "winter"
    assert (keys_dir / "keys-winter.toml").stat().st_mode & 0o777 == 0o600
    refused = cli("add", "--keys-dir", str(keys_dir), "--event-id", "winter")
    assert refused.returncode == 1 and "exists" in refused.stderr
    assert cli("add", "--keys-dir", str(keys_dir), "--event-id", "Bad Id").returncode == 1
    listed = [json.loads(line) for line in cli("list").stdout.splitlines()]
    assert [e["event_id"] for e in listed] == [EVENT, "winter"] and listed[1]["currency"] == "EUR"

    # organizer accounts and API tokens live in the home database; they open the further event's REST API
    token = new_token(store, "viewer", "nightly")
    bearer = {"authorization": f"Bearer {token}"}
    winter = api.get("/e/winter/api/v1/reports/summary", headers=bearer)
    assert winter.status_code == 200 and winter.json()["event_id"] == "winter", winter.text
    assert api.get("/api/v1/reports/summary", headers=bearer).json()["event_id"] == EVENT
    assert api.post("/e/winter/api/v1/cards/5/block", json={"reason": "lost"}, headers=bearer).status_code == 403
    assert api.get("/e/winter/api/v1/reports/summary", headers={"authorization": "Bearer spt_nope"}
                   ).status_code == 401
    assert api.get("/e/winter/api/v1/reports/summary", auth=("admin", PASSWORD)).status_code == 200
    assert api.get("/e/winter/api/v1/reports/summary", auth=("admin", "wrong")).status_code == 401
    assert api.post("/e/winter/api/v1/cards/5/block", json={"reason": "lost"}, auth=("admin", PASSWORD)
                    ).status_code < 400
    # the further event's API reference loads its own description and the shipped Swagger UI, nothing elsewhere
    docs = api.get("/e/winter/docs").text
    assert "'/e/winter/openapi.json'" in docs and "/e/winter/static/docs/swagger-ui-bundle.js" in docs
    assert "http" not in docs.replace("http-equiv", "")
    assert api.get("/e/winter/static/docs/swagger-ui-bundle.js").status_code == 200
    assert api.get("/e/winter/openapi.json").json()["info"]["title"] == "StallPay collector"
    winter_store = open_store(event_target(store_target, "winter"))
    assert [r["card_id"] for r in winter_store.query("SELECT card_id FROM hotlist")] == [5]
    assert store.query("SELECT card_id FROM hotlist") == []
    winter_store.close()
