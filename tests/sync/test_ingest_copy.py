"""Ingest's bulk-load encoding: rows built column by column and, for PostgreSQL, as COPY text in the worker processes.

Text with tabs, newlines, carriage returns, backslashes, a literal \\N and non-ASCII characters must come back from
either database exactly as the terminal wrote it, through the fast path (every entry new) and the overlap path.
"""

from __future__ import annotations

import gc
import pickle
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.enrollment import enroll
from sync.collector.ingest import ingest_many
from sync.collector.prepared import ENTRY_COLUMNS, INT_COLUMNS, entry_columns, entry_row, prepare
from sync.collector.prepared_stream import RARE_GC
from sync.collector.storage import SQLiteStore, Store, StoreError, decode_copy_text, encode_copy_text
from sync.collector.summary import summary
from sync.format.batch import encode, make_batch
from sync.format.keys import public_hex
from terminal.wallet.journal import GENESIS, entry_hash
from tests.sync.journals import EVENT

AWKWARD = ["tab\there", "line\nbreak", "cr\rlf\r\n", "back\\slash", "\\N", "\\", "\\.", "trailing\\", "Grüße",
           "烤肉串", "😀 emoji", "quote \" and '", "plain", "", "\\t not a tab"]


def _entries(tid: int, n: int, rng: random.Random, first: int = 1, prev: str = GENESIS) -> list[dict]:
    out = []
    for seq in range(first, first + n):
        name = rng.choice(AWKWARD)
        face = rng.random() < 0.1
        e = {"seq": seq, "terminal_id": tid, "event_id": EVENT, "time": f"2025-07-01T1{seq % 10}:00:00Z",
             "clock_synced": rng.random() < 0.5, "operator": rng.choice([*AWKWARD, None]),
             "op": rng.choice(["sale", "topup"]), "phase": rng.choice(["intent", "commit"]),
             "ref": rng.choice([None, seq - 1]), "card_id": None if face else rng.randint(1, 2**40),
             "uid": rng.choice([None, "04aabbccddeeff"]), "card_seq": rng.choice([None, seq]),
             "amount": rng.randint(0, 10**12), "balance_before": rng.choice([None, 5000]),
             "balance_after": rng.choice([None, 4000]), "currency": "EUR", "method": rng.choice([None, "cash", name]),
             "items": [{"name": name, "qty": 1, "unit_price": 250}, {"name": rng.choice(AWKWARD)}],
             "data": {"face_account": f"fa-{seq}", "note": name} if face else {"note": name}, "prev_hash": prev}
        e["hash"] = prev = entry_hash(e)
        out.append(e)
    return out


def _read_back(store: Store) -> list[tuple]:
    cols = ", ".join(ENTRY_COLUMNS)
    return [tuple(r[c] for c in ENTRY_COLUMNS)
            for r in store.query(f"SELECT {cols} FROM entries ORDER BY terminal_id, seq")]


def test_columns_are_the_rows_of_entry_row() -> None:
    entries = _entries(1, 300, random.Random(1))
    assert list(zip(*entry_columns(entries), strict=True)) == [entry_row(e) for e in entries]


def test_copy_text_round_trips_awkward_text() -> None:
    rows = [entry_row(e) for e in _entries(1, 300, random.Random(2))]
    data = encode_copy_text([list(c) for c in zip(*rows, strict=True)])
    assert data.count(b"\n") == len(rows) and b"\\\\N" in data
    assert decode_copy_text(data, INT_COLUMNS) == rows
    assert encode_copy_text([["a\tb", None, "c"], [True, 7, -3]]) == b"a\\tb\t1\n\\N\t7\nc\t-3\n"
    assert encode_copy_text([[], []]) == b""
    # one value throughout a column (a batch's terminal, a flag, all NULL) or not
    assert (encode_copy_text([[7, 7], [None, None], [True, True], [5, 6], [1, None]])
            == b"7\t\\N\t1\t5\t1\n7\t\\N\t1\t6\t\\N\n")
    # text and NULLs (a method): plain, empty, or needing escapes; a column of 0 and NULL; text, NULL and a number
    assert (encode_copy_text([["cash", None, ""], ["a\\b", None, "c\nd"], [0, None, 0], ["x", None, 3]])
            == b"cash\ta\\\\b\t0\tx\n\\N\t\\N\t\\N\t\\N\n\tc\\nd\t0\t3\n")


def test_copy_text_refuses_what_it_cannot_write(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError, match="type float"):
        encode_copy_text([[1.5]])
    with pytest.raises(StoreError, match="type float"):  # equal to the int before it, still not an int
        encode_copy_text([[1, 1.0]])
    store = SQLiteStore(str(tmp_path / "x.db"))
    with pytest.raises(StoreError, match="no COPY"):
        store.load_copy_text("entries", ENTRY_COLUMNS, [b""])
    store.close()


def _totals(rows: list[tuple]) -> dict[tuple, list[int]]:
    """`entry_totals` as its definition says, one row at a time: (terminal, hour, op, phase, method) ->
    [n, amount, balance delta]."""
    sums: dict[tuple, list[int]] = {}
    for r in rows:
        t = sums.setdefault((r[0], r[4][:13], r[7], r[8], r[17] or ""), [0, 0, 0])
        t[0] += 1
        t[1] += r[13] or 0
        t[2] += (r[15] or 0) - (r[14] or 0)
    return sums


def _takings(rows: list[tuple]) -> dict[tuple, list[int]]:
    """`operator_totals` one row at a time: committed issues and top-ups per terminal, hour, operator, op and
    method -> [n, amount]."""
    sums: dict[tuple, list[int]] = {}
    for r in rows:
        if r[8] == "commit" and r[7] in ("issue", "topup"):
            t = sums.setdefault((r[0], r[4][:13], r[6] or "", r[7], r[17] or ""), [0, 0])
            t[0] += 1
            t[1] += r[13] or 0
    return sums


def test_prepared_payload_matches_the_rows() -> None:
    entries = _entries(3, 50, random.Random(3))
    key = Ed25519PrivateKey.generate()
    blob = encode(make_batch(entries, key))
    rows = [entry_row(e) for e in entries]
    for copy_text in (True, False):
        p = pickle.loads(pickle.dumps(prepare("x", blob, copy_text)))  # as it comes back from a worker
        assert not p.error and p.count == 50 and p.row_tuples() == rows
        assert p.totals == _totals(rows) and p.takings == _takings(rows)
        assert p.card_ids == {r[10] for r in rows if r[10] is not None}
        assert p.face == [r for r in rows if r[10] is None]
        assert [p.hash_at(s) for s in range(1, 51)] == [e["hash"] for e in entries]
        assert p.prev_hash_at(1) == GENESIS and p.prev_hash_at(7) == entries[5]["hash"]
        rest = p.without({1, 2, 50})
        assert rest.row_tuples() == rows[2:49] and rest.count == 47
        assert rest.card_ids == {r[10] for r in rows[2:49] if r[10] is not None}

    # SQLite's rows cross from the worker with equal values as one object: fewer objects for the collector to make
    p = pickle.loads(pickle.dumps(prepare("x", blob, copy_text=False)))
    hashes, prevs, currencies = p.columns[2], p.columns[3], p.columns[16]
    assert all(prevs[i] is hashes[i - 1] for i in range(1, 50))  # prev_hash: the hash before it
    assert len(set(map(id, currencies))) == 1  # one currency, one object


@pytest.mark.parametrize("workers", [0, 2])
def test_awkward_text_round_trips_through_the_database(store: Store, workers: int) -> None:
    """Fast path (new entries), overlaps inside one group and across groups, a repeat, and a fork in the group."""
    rng = random.Random(4)
    blobs, expected = [], []
    for tid in (1, 2, 3):
        key = Ed25519PrivateKey.generate()
        enroll(store, tid, public_hex(key))
        entries = _entries(tid, 60, rng)
        expected += [entry_row(e) for e in entries]
        blobs += [encode(make_batch(entries[a:b], key)) for a, b in ((0, 20), (20, 40), (10, 30), (40, 60), (0, 60))]
        if tid == 2:  # a second history for terminal 2 after entry 20, arriving after the real one
            fork = encode(make_batch(_entries(tid, 10, random.Random(9), first=21, prev=entries[19]["hash"]), key))
    items = [(f"b{i}", b) for i, b in enumerate(blobs)]
    rng.shuffle(items)
    results = ingest_many(store, [*items, *items[:3], ("fork", fork)], workers=workers, group_entries=70)
    refused = [r for r in results if r.status == "refused"]
    assert [r.source for r in refused] == ["fork"] and "forked or altered" in refused[0].reason
    assert sum(r.new_entries for r in results) == len(expected) == 180
    assert _read_back(store) == sorted(expected)
    totals = sorted((r["terminal_id"], r["hour"], r["op"], r["phase"], r["method"], int(r["n"]), int(r["amount"]),
                     int(r["delta"])) for r in store.query("SELECT * FROM entry_totals"))
    want = _totals(expected)
    assert totals == sorted((*k, *v) for k, v in want.items())
    assert summary(store)["entries"] == 180


def test_query_in_runs_a_long_id_list_in_parts(store: Store) -> None:
    """`Store.query_in`: the ingest's and the ledger's lookups by many ids, one statement per `size` of them."""
    store.execute("CREATE TABLE numbers (n BIGINT)")
    store.executemany("INSERT INTO numbers (n) VALUES (?)", [(n,) for n in range(0, 2_600, 2)])
    rows = store.query_in("SELECT n FROM numbers WHERE n IN ({marks}) ORDER BY n", list(range(1_200)), size=500)
    assert [r["n"] for r in rows] == list(range(0, 1_200, 2))
    assert store.query_in("SELECT n FROM numbers WHERE n IN ({marks})", []) == []


def test_a_bulk_ingest_collects_garbage_rarely_and_restores_the_thresholds(store: Store) -> None:
    key = Ed25519PrivateKey.generate()
    enroll(store, 4, public_hex(key))
    entries = _entries(4, 100, random.Random(5))
    blobs = [encode(make_batch(entries[i:i + 10], key)) for i in range(0, 100, 10)]
    before, seen = gc.get_threshold(), []
    results = ingest_many(store, [(f"b{i}", b) for i, b in enumerate(blobs)], workers=0,
                          progress=lambda *_: seen.append(gc.get_threshold()))
    assert [r.status for r in results] == ["stored"] * 10
    assert seen and all(t[0] >= RARE_GC[0] for t in seen)  # while the ten batches were stored
    assert gc.get_threshold() == before
    more = _entries(4, 1, random.Random(6), first=101, prev=entries[-1]["hash"])
    one = ingest_many(store, [("upload", encode(make_batch(more, key)))], workers=0,
                      progress=lambda *_: seen.append(gc.get_threshold()))
    assert one[0].status == "stored" and seen[-1] == before  # one upload: the thresholds are left alone
