"""Ingest on SQLite and PostgreSQL: exactly once in any order; bad batches refused with a reason, books untouched."""

from __future__ import annotations

import random
from pathlib import Path

from sync.collector.enrollment import revoke
from sync.collector.ingest import contiguous_seq, ingest_bytes
from sync.collector.ledger import reconcile
from sync.collector.reports import contiguous_seqs
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode, make_batch
from terminal.uplink.export import batches
from tests.sync.journals import Cards, make_terminal


def _event(tmp_path: Path, store: Store, n_terms: int = 3, n_ops: int = 60, seed: int = 1):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    cards = Cards()
    terms = [make_terminal(tmp_path, t, cards, store) for t in range(1, n_terms + 1)]
    for c in range(1, 11):
        terms[0].book("issue", c, rng.randint(1000, 5000), method=rng.choice(["cash", "card", "comp"]))
    for _ in range(n_ops):
        t, c = rng.choice(terms), rng.randint(1, 10)
        if cards.balance[c] >= 500 and rng.random() < 0.8:
            t.book("sale", c, rng.randint(1, 500))
        else:
            t.book("topup", c, rng.randint(100, 2000), method="cash")
    return terms, cards


def _blobs(term, size: int = 7) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [encode(b) for b in batches(term.journal, term.key, batch_size=size)]


def test_any_order_twice_gives_the_same_books(tmp_path: Path, store: Store) -> None:
    terms, cards = _event(tmp_path, store)
    blobs = [b for t in terms for b in _blobs(t)]
    random.Random(5).shuffle(blobs)
    statuses = [ingest_bytes(store, b).status for b in blobs + blobs]
    assert statuses.count("stored") == len(blobs) and statuses.count("duplicate") == len(blobs)
    reconcile(store)
    s = summary(store)
    assert s["outstanding"] == sum(cards.balance.values())
    assert s["books_balance"] and s["anomalies"] == {}
    assert s["entries"] == sum(t.journal.head()[0] for t in terms)
    for t in terms:
        assert contiguous_seq(store, t.terminal_id) == t.journal.head()[0]


def test_overlapping_exports_store_each_entry_once(tmp_path: Path, store: Store) -> None:
    terms, cards = _event(tmp_path, store, n_terms=1, n_ops=30)
    t = terms[0]
    half = t.journal.head()[0] // 2
    for blob in _blobs(t, 5):  # first half delivered in small batches, connection "dropped"
        if ingest_bytes(store, blob).last_seq >= half:
            break
    for blob in _blobs(t, 1000):  # then everything again as one batch
        assert ingest_bytes(store, blob).status == "stored"
    assert summary(store)["entries"] == t.journal.head()[0]
    assert summary(store)["outstanding"] == sum(cards.balance.values())


def test_gap_in_a_terminal_chain_is_visible_until_filled(tmp_path: Path, store: Store) -> None:
    terms, _ = _event(tmp_path, store, n_terms=1, n_ops=20)
    blobs = _blobs(terms[0], 5)
    for b in blobs[2:]:
        ingest_bytes(store, b)
    assert contiguous_seq(store, 1) == 0 and contiguous_seqs(store).get(1, 0) == 0
    ingest_bytes(store, blobs[0])
    assert contiguous_seq(store, 1) == contiguous_seqs(store)[1] > 0
    for b in blobs[:2]:
        ingest_bytes(store, b)
    assert contiguous_seq(store, 1) == contiguous_seqs(store)[1] == terms[0].journal.head()[0]


def _books(store: Store) -> tuple:
    s = summary(store)
    return s["deposited"], s["spent"], s["outstanding"], s["entries"]


def test_bad_batches_refused_with_reason_and_no_effect(tmp_path: Path, store: Store) -> None:
    terms, _ = _event(tmp_path, store, n_terms=2, n_ops=20)
    for t in terms:
        for b in _blobs(t, 1000):
            ingest_bytes(store, b)
    before = _books(store)
    t = terms[0]
    t.book("topup", 1, 700, method="cash")
    good = make_batch(t.journal.export(after=t.journal.head()[0] - 2), t.key)

    tampered = make_batch(t.journal.export(after=t.journal.head()[0] - 2), t.key)
    tampered.entries[0]["amount"] = 70000
    res = ingest_bytes(store, encode(tampered))
    assert res.status == "refused" and "altered" in res.reason

    truncated = encode(good)[:-10]
    assert "truncated" in ingest_bytes(store, truncated).reason

    foreign = make_terminal(tmp_path / "f", 9, t.cards, event_id="other-event")
    foreign.book("issue", 99, 100, method="cash")
    res = ingest_bytes(store, encode(make_batch(foreign.journal.export(), foreign.key)))
    assert res.status == "refused" and "foreign batch" in res.reason

    unknown = make_terminal(tmp_path / "u", 7, t.cards)
    unknown.book("issue", 98, 100, method="cash")
    assert "not enrolled" in ingest_bytes(store, encode(make_batch(unknown.journal.export(), unknown.key))).reason

    # a forked journal: same terminal and key, a different history than the one already stored
    fork = make_terminal(tmp_path / "fork", 1, Cards())
    fork.key = t.key
    fork.book("issue", 1, 1, method="cash")
    res = ingest_bytes(store, encode(make_batch(fork.journal.export(), fork.key)))
    assert res.status == "refused" and "forked or altered" in res.reason

    assert _books(store) == before
    revoke(store, t.terminal_id)
    res = ingest_bytes(store, encode(good))
    assert res.status == "refused" and "revoked" in res.reason
    assert _books(store) == before
    refusals = store.query("SELECT reason FROM refusals")
    assert len(refusals) == 6


def test_sender_must_be_the_batch_terminal(tmp_path: Path, store: Store) -> None:
    terms, _ = _event(tmp_path, store, n_terms=2, n_ops=5)
    res = ingest_bytes(store, _blobs(terms[0])[0], terminal_id=2)
    assert res.status == "refused" and "may not upload" in res.reason


def _totals_from_entries(store: Store) -> list[tuple]:
    return sorted((r["terminal_id"], r["hour"], r["op"], r["phase"], r["method"], int(r["n"]), int(r["amount"]))
                  for r in store.query(
        "SELECT terminal_id, substr(time, 1, 13) AS hour, op, phase, COALESCE(method, '') AS method, COUNT(*) AS n, "
        "SUM(amount) AS amount FROM entries GROUP BY terminal_id, substr(time, 1, 13), op, phase, "
        "COALESCE(method, '')"))


def _totals(store: Store) -> list[tuple]:
    return sorted((r["terminal_id"], r["hour"], r["op"], r["phase"], r["method"], int(r["n"]), int(r["amount"]))
                  for r in store.query("SELECT * FROM entry_totals"))


def test_grouped_parallel_ingest_with_overlaps_keeps_totals_exact(tmp_path: Path, store: Store) -> None:
    """Many batches through worker processes, in groups, with repeats and overlaps inside one group."""
    from sync.collector.entry_totals import rebuild_totals
    from sync.collector.ingest import ingest_many

    terms, cards = _event(tmp_path, store, n_ops=200)
    small = [b for t in terms for b in _blobs(t, 7)]
    big = [b for t in terms for b in _blobs(t, 20)]  # overlaps the small ones (different cuts)
    items = [("x", b) for b in small + big + small[:5]]
    random.Random(3).shuffle(items)
    results = ingest_many(store, items, workers=2, group_entries=60)
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
    assert {r.status for r in results} == {"stored", "duplicate"}
    assert summary(store)["entries"] == sum(t.journal.head()[0] for t in terms)
    assert _totals(store) == _totals_from_entries(store)
    s = summary(store, check_cards=True)
    assert s["books_balance"] and s["outstanding"] == s["outstanding_per_card"] == sum(cards.balance.values())
    rebuild_totals(store)
    assert _totals(store) == _totals_from_entries(store)


def test_bad_batch_in_a_parallel_group_is_refused_alone(tmp_path: Path, store: Store) -> None:
    from sync.collector.ingest import ingest_many

    terms, _ = _event(tmp_path, store, n_ops=100)
    blobs = [b for t in terms for b in _blobs(t, 7)]
    bad = bytearray(blobs[4])
    bad[-10] ^= 0xFF
    items = [(f"b{i}", b) for i, b in enumerate(blobs)]
    items[4] = ("bad", bytes(bad))
    results = ingest_many(store, items, workers=2, group_entries=50)
    refused = [r for r in results if not r.ok]
    assert [r.source for r in refused] == ["bad"] and refused[0].reason
    assert [r.source for r in results] == [s for s, _ in items]  # results in input order
    assert _totals(store) == _totals_from_entries(store)
