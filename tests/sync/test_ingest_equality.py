"""However batches arrive (all in one `ingest_many` call, one by one, or through worker processes), the collector
ends with the same entries, running totals and anomalies: the totals are summed in workers and folded in per group,
and that must never depend on how batches were grouped."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.collector import product_totals
from sync.collector.event import init_event
from sync.collector.ingest import ingest_bytes, ingest_many
from sync.collector.ledger import reconcile_pending
from sync.collector.prepared import entry_columns
from sync.collector.storage import Store, open_store
from sync.format.batch import encode
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, make_terminal

MENU = [("Beer", 450), ("Fries", 350), ("Water", 200), ("Bratwurst", 550)]
HOSTILE_ITEMS = [{"name": "A", "qty": "many", "unit_price": 100}, {"name": "B", "qty": 2, "unit_price": "x"}, 7,
                 None, {"name": "C", "qty": True, "total": 1e300}, {"product": "D", "amount": 250},
                 {"name": "E", "qty": 2.0, "unit_price": 10**13}, {"sku": 5, "qty": -3, "price": 10}]
_schemas = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Store]]:
    """Three fresh collector databases on one backend (PostgreSQL: three schemas)."""
    targets = []
    for i in range(3):
        if request.param == "sqlite":
            targets.append(str(tmp_path / f"collector{i}.db"))
            continue
        import psycopg

        dsn = request.getfixturevalue("pg_server")
        schema = f"eq{os.getpid()}_{next(_schemas)}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        targets.append(f"{dsn}?options=-csearch_path%3D{schema}")
    opened = [open_store(t) for t in targets]
    for s in opened:
        init_event(s, EVENT, "EUR")
    yield opened
    for s in opened:
        s.close()


def _event_batches(tmp_path: Path, stores: list[Store]) -> list[bytes]:
    """Two terminals' sales, voids, top-ups and a forged card sequence (an anomaly), in batches that overlap."""
    rng = random.Random(11)
    cards = Cards()
    terms = [make_terminal(tmp_path, t, cards) for t in (1, 2)]
    for t in terms:
        for s in stores:
            from sync.collector.enrollment import enroll
            from sync.format.keys import public_hex

            enroll(s, t.terminal_id, public_hex(t.key), vendor="Grill")
    for c in range(1, 7):
        terms[c % 2].book("issue", c, 20_000, method="cash")
    for i in range(90):
        name, price = rng.choice(MENU)
        qty = rng.randint(1, 3)
        t = terms[i % 2]
        t.book("sale", rng.randint(1, 6), qty * price, items=[{"sku": name[:2], "name": name, "qty": qty,
                                                                "unit_price": price}])
        if i % 11 == 0:
            t.book("void", rng.randint(1, 6), qty * price, items=[{"name": name, "qty": qty, "unit_price": price}])
        if i % 17 == 0:
            t.book("topup", rng.randint(1, 6), 1000, method=rng.choice(["cash", "card"]))
    terms[0].book("sale", 3, 100, items=HOSTILE_ITEMS)
    terms[1].book("sale", 2, 100, card_seq=1)  # a card sequence seen before: reconcile reports it
    out = [encode(b) for t in terms for size in (7, 19) for b in batches(t.journal, t.key, batch_size=size)]
    random.Random(3).shuffle(out)
    return out


def _books(store: Store) -> dict[str, list[dict]]:
    tables = {"entries": "terminal_id, seq", "entry_totals": "terminal_id, hour, op, phase, method",
              "product_totals": "terminal_id, hour, product", "operator_totals": "terminal_id, hour, operator, op, "
              "method", "anomalies": "card_id, kind, terminal_id, seq"}
    books = {t: store.query(f"SELECT * FROM {t} ORDER BY {order}") for t, order in tables.items()}
    books["anomalies"] = [{k: v for k, v in r.items() if k not in ("id", "anomaly_id", "found_at")}
                          for r in books["anomalies"]]
    return books


def test_one_call_one_by_one_and_workers_give_the_same_books(tmp_path: Path, stores: list[Store]) -> None:
    blobs = _event_batches(tmp_path, stores)
    together, one_by_one, workers = stores
    assert all(r.ok for r in ingest_many(together, [("x", b) for b in blobs], workers=0, group_entries=60))
    for b in blobs:
        assert ingest_bytes(one_by_one, b).ok
    assert all(r.ok for r in ingest_many(workers, [("x", b) for b in blobs], workers=2, group_entries=60))
    for s in stores:
        reconcile_pending(s)
    books = [_books(s) for s in stores]
    assert books[0]["anomalies"] and books[0]["product_totals"] and books[0]["operator_totals"]
    assert books[0] == books[1] == books[2]
    # and the running totals equal a rebuild from the stored entries' JSON text
    product_totals.rebuild(together)
    assert _books(together)["product_totals"] == books[0]["product_totals"]


def test_products_summed_per_batch_equal_those_summed_entry_by_entry() -> None:
    """`sum_columns` parses each distinct items text once per batch: the same sums as `add_entry` for each entry."""
    baskets = [HOSTILE_ITEMS, HOSTILE_ITEMS[:2], [], [{"name": "Ü", "qty": 1, "price": 1.5}], "not a list", 7]
    entries = []
    for seq in range(1, 40):
        op = ("sale", "void", "topup", "sale")[seq % 4]
        items = baskets[seq % len(baskets)]
        entries.append({"terminal_id": 1 + seq % 2, "seq": seq, "hash": "h", "prev_hash": "p", "time":
                        f"2025-07-01T1{seq % 3}:00:00Z", "clock_synced": True, "operator": "op", "op": op,
                        "phase": "commit" if seq % 7 else "intent", "ref": None, "card_id": 1, "uid": "04",
                        "card_seq": seq, "amount": 1, "balance_before": 0, "balance_after": 0, "currency": "EUR",
                        "method": None, "items": items, "data": {}})
    columns = entry_columns(entries)
    one_by_one: product_totals.Sums = {}
    for tid, time, op, phase, items in zip(columns[0], columns[4], columns[7], columns[8], columns[18], strict=True):
        product_totals.add_entry(one_by_one, tid, time, op, phase, items)
    assert one_by_one and product_totals.sum_columns(columns) == one_by_one
