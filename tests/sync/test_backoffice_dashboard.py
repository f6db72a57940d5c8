"""The dashboard narrows like the reports (venue, vendor, terminal, day, hour); unfiltered it equals the summary.
In-process on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.ingest import ingest_many
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from terminal.config import EventKeys
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, Term, make_terminal

PASSWORD = "correct horse 1"


def _figure(page: str, key: str) -> str:
    found = re.search(rf'id="fig-{key}" data-minor="(-?\d*)"', page)
    assert found, page[:800]
    return found.group(1)


def _ingest(store: Store, term: Term) -> None:
    ingest_many(store, [("x", encode(b)) for b in batches(term.journal, term.key, batch_size=10)], workers=0)


def test_dashboard_filters_like_the_reports(store: Store, tmp_path: Path) -> None:
    cards = Cards()
    grill = make_terminal(tmp_path, 1, cards, store, vendor="Grill")
    bar = make_terminal(tmp_path, 2, cards, store, vendor="Bar")
    grill.book("issue", 1, 5000, method="cash")
    grill.book("sale", 1, 450, items=[{"sku": "W", "name": "Wurst", "qty": 1, "unit_price": 450}])
    bar.book("topup", 1, 2000, method="card")
    bar.book("sale", 1, 300, items=[{"sku": "C", "name": "Cola", "qty": 1, "unit_price": 300}])
    _ingest(store, grill)
    _ingest(store, bar)
    store.execute("UPDATE terminals SET venue = 'Tent' WHERE terminal_id = 2")
    set_user(store, "viewer", PASSWORD, role="readonly")
    app = create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32)))
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    assert client.post("/login", data={"csrf": token.group(1), "username": "viewer",
                                       "password": PASSWORD}).status_code == 303

    books = summary(store)
    whole = client.get("/").text
    for key in ("deposited", "spent", "refunded", "outstanding"):
        assert int(_figure(whole, key)) == books[key], key
    assert 'id="live"' in whole and "Wurst" in whole and "Cola" in whole

    by_vendor = client.get("/?vendor=Bar").text
    assert (_figure(by_vendor, "deposited"), _figure(by_vendor, "spent")) == ("2000", "300")
    assert _figure(by_vendor, "outstanding") == ""  # the event's, not a slice's
    assert 'data-src="/live?vendor=Bar"' in by_vendor and "Cola" in by_vendor and "Wurst" not in by_vendor
    by_venue = client.get("/?venue=Tent").text
    assert _figure(by_venue, "spent") == "300"
    by_terminal = client.get("/?terminal=1").text
    assert (_figure(by_terminal, "deposited"), _figure(by_terminal, "spent")) == ("5000", "450")
    hour = next(r["hour"] for r in store.query("SELECT hour FROM entry_totals WHERE terminal_id = 1"))
    day_hour = client.get(f"/?day={hour[:10]}&hour={hour[11:13]}").text
    assert _figure(day_hour, "spent") == "750"
    other_day = client.get("/?day=1999-01-01").text
    assert (_figure(other_day, "deposited"), _figure(other_day, "spent")) == ("0", "0")
    assert client.get("/?hour=24").status_code == 422
    assert client.get("/?terminal=x").status_code == 422
    assert summary(store)["books_balance"]
