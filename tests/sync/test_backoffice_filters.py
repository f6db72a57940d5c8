"""The one filter bar on every page that narrows: each page narrows by its own fields (anomalies by the day they
were found, the audit log by day and person, a card's history by terminal and day), exports keep the filter,
and hostile values (not a number, not a date, huge, injection strings, unknown names) are a 422 with a message,
never a 500. In-process on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.backoffice.report_views import FIELDS, VIEWS
from sync.collector.ingest import ingest_many
from sync.collector.storage import Store
from sync.format.batch import encode
from terminal.config import EventKeys
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, Term, make_terminal

PASSWORD = "correct horse 1"
CARD = 1

HOSTILE = {
    "terminal": ["x", "1 OR 1=1", "-1", "0", "65536", "9" * 40, "１２", "1e3"],
    "day": ["2026-13-01", "2026-02-30", "yesterday", "' OR '1'='1", "9" * 30, "2026-1-1"],
    "hour": ["24", "-1", "7", "99999999999999999999", "12; DROP TABLE entries"],
    "vendor": ["' OR 1=1 --", "Nobody", "<script>alert(1)</script>", "B" * 500, "Bar\x00"],
    "venue": ["'; DROP TABLE terminals; --", "Nowhere", "T" * 101],
    "who": ["' OR '1'='1", "nobody", "\x1b[31m", "w" * 300],
}
"""Per field: values a URL may carry that are no terminal, day, hour or known name."""


def _ingest(store: Store, term: Term) -> None:
    ingest_many(store, [("x", encode(b)) for b in batches(term.journal, term.key, batch_size=10)], workers=0)


@pytest.fixture
def office(store: Store, tmp_path: Path) -> tuple[TestClient, Store, str]:
    cards = Cards()
    grill = make_terminal(tmp_path, 1, cards, store, vendor="Grill")
    bar = make_terminal(tmp_path, 2, cards, store, vendor="Bar")
    grill.book("issue", CARD, 5000, method="cash")
    grill.book("sale", CARD, 450, items=[{"sku": "W", "name": "Wurst", "qty": 1, "unit_price": 450}])
    bar.book("sale", CARD, 300, items=[{"sku": "C", "name": "Cola", "qty": 1, "unit_price": 300}])
    _ingest(store, grill)
    _ingest(store, bar)
    store.execute("UPDATE terminals SET venue = 'Tent' WHERE terminal_id = 2")
    for terminal, day in ((1, "2026-06-01"), (2, "2026-06-02")):
        store.execute("INSERT INTO anomalies (card_id, kind, terminal_id, seq, detail, found_at) "
                      "VALUES (?, 'gap', ?, 99, 'test', ?)", [CARD, terminal, f"{day}T10:00:00+00:00"])
    set_user(store, "boss", PASSWORD, role="admin")
    set_user(store, "clerk", PASSWORD, role="finance")
    app = create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32)))
    client = TestClient(app, follow_redirects=False)
    for user in ("clerk", "boss"):  # both in the audit log (login); the client stays logged in as the admin
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        assert client.post("/login", data={"csrf": token.group(1), "username": user,
                                           "password": PASSWORD}).status_code == 303
    day = store.query("SELECT substr(hour, 1, 10) AS d FROM entry_totals")[0]["d"]
    return client, store, day


def _pages(fields_of_reports: dict[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
    pages = [("/", ("venue", "vendor", "terminal", "day", "hour")), ("/live", ("venue", "vendor", "terminal", "day",
                                                                             "hour")),
             ("/terminals", ("venue", "vendor", "terminal")), ("/audit", ("day", "who")),
             (f"/cards/{CARD}", ("terminal", "day"))]
    for name, fields in fields_of_reports.items():
        pages += [(f"/reports/{name}", fields), (f"/reports/{name}?format=csv", fields),
                  (f"/reports/{name}?format=pdf", fields)]
    return pages


def test_hostile_filter_values_are_refused_on_every_page(office: tuple[TestClient, Store, str]) -> None:
    client, store, _day = office
    for page, fields in _pages(FIELDS):
        assert fields or page.startswith(("/reports/face-accounts", "/reports/erasures")), page
        for name in fields:
            for value in HOSTILE[name]:
                answer = client.get(page, params={name: value})  # merged with the page's own query
                assert answer.status_code == 422, (page, name, value, answer.status_code)
                if "format=" not in page and page != "/live":
                    assert 'id="filter-error"' in answer.text or 'class="error"' in answer.text, (page, name)
                    assert "<script>alert" not in answer.text
        # a field the page does not narrow by is ignored, not an error
        ignored = next((n for n in HOSTILE if n not in fields), None)
        if ignored and page != "/live":
            assert client.get(page, params={ignored: "x"}).status_code == 200, (page, ignored)
    assert store.scalar("SELECT COUNT(*) FROM entries") > 0  # nothing was dropped by an "injection"
    refused = client.get("/reports/products?format=csv&terminal=x")  # a script gets the reason, as text
    assert refused.text == "a terminal is a number from 1 to 65535\n"
    assert refused.headers["content-type"].startswith("text/plain")


def test_every_report_page_has_its_filter_bar(office: tuple[TestClient, Store, str]) -> None:
    client, _store, _day = office
    assert {v.name for v in VIEWS} == set(FIELDS)
    for view in VIEWS:
        page = client.get(f"/reports/{view.name}").text
        assert ('id="filters"' in page) == bool(FIELDS[view.name]), view.name
        for name in FIELDS[view.name]:
            if name != "venue":  # the venue list shows only once a venue is set
                assert f'name="{name}"' in page, (view.name, name)


def test_pages_narrow_by_their_fields_and_exports_keep_the_filter(office: tuple[TestClient, Store, str]) -> None:
    client, _store, day = office
    # anomalies by the day they were found, and by vendor
    rows = list(csv.DictReader(io.StringIO(client.get("/reports/anomalies?format=csv&day=2026-06-02").text)))
    assert [r["terminal_id"] for r in rows] == ["2"]
    rows = list(csv.DictReader(io.StringIO(client.get("/reports/anomalies?format=csv&vendor=Grill").text)))
    assert [r["terminal_id"] for r in rows] == ["1"]
    assert client.get("/reports/anomalies?day=2026-06-01").status_code == 200
    # sync status and terminals by vendor and venue
    rows = list(csv.DictReader(io.StringIO(client.get("/reports/sync?format=csv&venue=Tent").text)))
    assert [r["terminal_id"] for r in rows] == ["2"]
    terminals = client.get("/terminals?vendor=Grill").text
    assert re.search(r"<td>1 ", terminals) and not re.search(r"<td>2 ", terminals)
    # the summary of a slice: the movements booked there
    rows = {r["item"]: r["value"] for r in csv.DictReader(io.StringIO(
        client.get("/reports/summary?format=csv&vendor=Bar").text))}
    assert rows["spent"] == "3.00" and "outstanding" not in rows
    # the page's CSV and PDF links carry its filter, and the CSV is of the slice
    page = client.get(f"/reports/products?vendor=Bar&day={day}").text
    link = re.search(r'id="csv" href="([^"]+)"', page)
    assert link and "vendor=Bar" in link.group(1) and f"day={day}" in link.group(1)
    rows = list(csv.DictReader(io.StringIO(client.get("/reports/products" + link.group(1).replace("&amp;", "&"))
                                           .text)))
    assert [r["product"] for r in rows] == ["Cola"]
    pdf = re.search(r'id="pdf" href="([^"]+)"', page)
    assert pdf and "vendor=Bar" in pdf.group(1)
    # a card's history by terminal and day
    card = client.get(f"/cards/{CARD}").text
    assert set(re.findall(r"<td>(\d+) #", card[card.index('id="history"'):])) == {"1", "2"}
    card = client.get(f"/cards/{CARD}?terminal=2").text
    assert set(re.findall(r"<td>(\d+) #", card[card.index('id="history"'):])) == {"2"}
    card = client.get(f"/cards/{CARD}?day=2000-01-01").text
    assert re.findall(r"<td>(\d+) #", card[card.index('id="history"'):]) == []
    # the audit log by person and by day
    audit = client.get("/audit?who=clerk").text
    people = re.findall(r"<tr><td>[^<]*</td><td>([^<]+)</td>", audit[audit.index('id="audit"'):])
    assert people and set(people) == {"clerk"}
    audit = client.get("/audit?day=2000-01-01").text
    assert re.findall(r"<tr><td>[^<]*</td><td>([^<]+)</td>", audit[audit.index('id="audit"'):]) == []


def test_the_bar_and_its_refusals_speak_the_page_language(office: tuple[TestClient, Store, str]) -> None:
    client, _store, _day = office
    client.cookies.set("stallpay_lang", "tr")
    page = client.get("/")
    assert page.status_code == 200 and "tüm terminaller" in page.text and "tüm günler" in page.text
    assert "herkes" in client.get("/audit").text
    refused = client.get("/?vendor=Nobody")
    assert refused.status_code == 422 and "bu etkinlikte &#39;Nobody&#39; adlı satıcı yok" in refused.text
    assert "terminal 1 ile 65535 arasında bir sayıdır" in client.get("/terminals?terminal=x").text
    client.cookies.set("stallpay_lang", "zh_CN")
    assert "审计日志中没有名为 &#39;nobody&#39; 的人" in client.get("/audit?who=nobody").text
    assert "本活动中没有名为 &#39;Nowhere&#39; 的场地" in client.get("/reports/vendors?venue=Nowhere").text
