"""Per-product running totals kept at ingest: equal to summing every sale's items, exactly once whatever arrives
twice or overlapping, filled by the migration on an existing database, and hostile items never stop an ingest."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from sync.collector import product_totals
from sync.collector.ingest import ingest_many
from sync.collector.reports import by_product, cashiers, top_products
from sync.collector.storage import Store, open_store
from sync.collector.summary import summary
from sync.format.batch import encode
from terminal.uplink.export import batches
from tests.sync.journals import Cards, make_terminal

MENU = [("Beer", 450), ("Fries", 350), ("Water", 200), ("Bratwurst", 550)]


def _event(tmp_path: Path, store: Store) -> list:  # type: ignore[type-arg]
    rng = random.Random(7)
    cards = Cards()
    terms = [make_terminal(tmp_path, t, cards, store) for t in (1, 2)]
    for c in range(1, 6):
        terms[0].book("issue", c, 20_000, method="cash")
    for i in range(80):
        name, price = rng.choice(MENU)
        qty = rng.randint(1, 3)
        items = [{"sku": name[:2], "name": name, "qty": qty, "unit_price": price}]
        t = terms[i % 2]
        t.book("sale", rng.randint(1, 5), qty * price, items=items)
        if i % 9 == 0:
            t.book("void", rng.randint(1, 5), qty * price, items=items)
    return terms


def _reference(store: Store) -> list[dict]:
    """The report as it was computed before the totals: every committed sale's items, voids subtracted."""
    qty: dict[str, int] = defaultdict(int)
    net: dict[str, int] = defaultdict(int)
    for r in store.query("SELECT op, items FROM entries WHERE phase = 'commit' AND op IN ('sale', 'void')"):
        sign = 1 if r["op"] == "sale" else -1
        for item in json.loads(r["items"]):
            qty[item["name"]] += sign * item["qty"]
            net[item["name"]] += sign * item["qty"] * item["unit_price"]
    return sorted(({"product": k, "quantity": qty[k], "net": net[k]} for k in qty), key=lambda r: (-r["net"],
                                                                                                   r["product"]))


def _cashiers_from_entries(store: Store) -> list[dict]:
    rows = store.query("SELECT terminal_id, COALESCE(operator, '') AS operator, COALESCE(method, '') AS method, "
                       "COUNT(*) AS count, SUM(amount) AS total FROM entries WHERE phase = 'commit' AND op IN "
                       "('issue', 'topup') GROUP BY terminal_id, operator, method "
                       "ORDER BY terminal_id, operator, method")
    return [{k: int(v) if k in ("count", "total") else v for k, v in r.items()} for r in rows]


def test_totals_equal_the_items_whatever_arrives_twice(tmp_path: Path, store: Store) -> None:
    terms = _event(tmp_path, store)
    small = [encode(b) for t in terms for b in batches(t.journal, t.key, batch_size=9)]
    big = [encode(b) for t in terms for b in batches(t.journal, t.key, batch_size=25)]
    items = [("x", b) for b in small + big + small[:4]]
    random.Random(1).shuffle(items)
    assert all(r.ok for r in ingest_many(store, items, workers=0, group_entries=40))
    expected = _reference(store)
    assert len(expected) == len(MENU) and by_product(store) == expected
    assert top_products(store, 2) == expected[:2]
    assert cashiers(store) == _cashiers_from_entries(store)
    assert sum(r["net"] for r in expected) == sum(r["net"] for r in store.query(
        "SELECT SUM(CASE WHEN op = 'sale' THEN amount ELSE -amount END) AS net FROM entries "
        "WHERE phase = 'commit' AND op IN ('sale', 'void')"))
    assert summary(store)["books_balance"]


def test_migration_fills_an_existing_database(tmp_path: Path, store_target: str) -> None:
    from sync.collector.event import init_event

    store = open_store(store_target)
    init_event(store, "test-event", "EUR")
    terms = _event(tmp_path, store)
    ingest_many(store, [("x", encode(b)) for t in terms for b in batches(t.journal, t.key, batch_size=30)],
                workers=0)
    expected = by_product(store)
    takings = cashiers(store)
    assert takings == _cashiers_from_entries(store) and takings
    # the database as it was before the migrations: no tables, migrations 10 and 14 not applied
    store.execute("DROP TABLE product_totals")
    store.execute("DROP TABLE operator_totals")
    store.execute("DELETE FROM schema_migrations WHERE version IN (10, 14)")
    store.close()
    product_totals.PAGE = 7  # several pages of the keyset walk
    try:
        again = open_store(store_target)
    finally:
        product_totals.PAGE = 50_000
    assert by_product(again) == expected == _reference(again)
    assert cashiers(again) == takings
    again.close()


def test_hostile_items_are_counted_safely() -> None:
    sums: product_totals.Sums = {}
    product_totals.add_entry(sums, 1, "2025-07-01T10:00:00Z", "sale", "commit", json.dumps(
        [{"name": "A", "qty": "many", "unit_price": 100}, {"name": "B", "qty": 2, "unit_price": "x"}, 7, None,
         {"name": "C", "qty": True, "total": 1e300}, {"product": "D", "amount": 250}]))
    product_totals.add_entry(sums, 1, "2025-07-01T10:00:00Z", "sale", "commit", "{not json")
    product_totals.add_entry(sums, 1, "2025-07-01T10:00:00Z", "sale", "commit", '{"a": 1}')
    assert sums == {(1, "2025-07-01T10", "A"): [1, 100], (1, "2025-07-01T10", "B"): [2, 0],
                    (1, "2025-07-01T10", "C"): [1, 0], (1, "2025-07-01T10", "D"): [1, 250]}


def test_filters_narrow_the_totals_by_terminal_vendor_day_and_hour(tmp_path: Path, store: Store) -> None:
    from sync.collector.report_filters import FilterError, Filters

    terms = _event(tmp_path, store)
    ingest_many(store, [("x", encode(b)) for t in terms for b in batches(t.journal, t.key, batch_size=30)],
                workers=0)
    everything = by_product(store)
    one = by_product(store, where=Filters(terminal=1))
    two = by_product(store, where=Filters(terminal=2))
    merged: dict[str, int] = defaultdict(int)
    for r in one + two:
        merged[r["product"]] += r["net"]
    assert one != two and merged == {r["product"]: r["net"] for r in everything}
    store.execute("UPDATE terminals SET venue = 'Main stage' WHERE terminal_id = 1")
    assert by_product(store, where=Filters(venue="Main stage")) == one
    assert by_product(store, where=Filters(venue="Main stage", terminal=2)) == []
    hour = store.query("SELECT MIN(hour) AS h FROM product_totals")[0]["h"]
    assert by_product(store, where=Filters(vendor="Grill", day=hour[:10], hour=hour[11:13])) == everything
    assert by_product(store, where=Filters(vendor="Bar")) == [] == cashiers(store, Filters(day="1999-01-01"))
    assert cashiers(store, Filters(terminal=1)) == [r for r in cashiers(store) if r["terminal_id"] == 1]
    for query in ({"terminal": "1; DROP TABLE entries"}, {"terminal": "0"}, {"day": "2025-7-1"}, {"hour": "24"},
                  {"hour": "7"}):
        with pytest.raises(FilterError):
            Filters.from_query(query)
    assert Filters.from_query({"vendor": "  Grill  ", "terminal": "2", "day": "2025-07-01", "hour": "09"}) == \
        Filters("Grill", 2, "2025-07-01", "09")
