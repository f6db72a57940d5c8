"""Reconcile marks (one per stored batch) and the durability of a many-batch ingest, on SQLite and PostgreSQL.

Ingest marks each batch it stores; `reconcile_pending` turns the marks it read into card marks and reconciles
those cards, so a batch stored meanwhile is reconciled by the next run, and a run stopped halfway leaves its cards
marked. A many-batch ingest commits its
groups without waiting for the disk but the last, so it returns once all of them are on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.collector import ingest, ledger
from sync.collector.ingest import ingest_many
from sync.collector.ledger import reconcile_pending
from sync.collector.storage import Store
from sync.format.batch import encode
from terminal.uplink.export import batches
from tests.sync.journals import Cards, Term, make_terminal


def _upload(store: Store, term: Term, after: int = 0) -> list[str]:
    """Ingest the terminal's journal after `after`; the stored batches' ids."""
    results = ingest_many(store, [(f"t{term.terminal_id}-{b.first_seq}", encode(b))
                                  for b in batches(term.journal, term.key, after=after)], workers=0)
    assert all(r.status == "stored" for r in results)
    return [r["batch_id"] for r in store.query("SELECT batch_id FROM batches WHERE terminal_id = ? AND first_seq > ?",
                                               [term.terminal_id, after])]


def _sold_twice(tmp_path: Path, store: Store, card: int) -> Term:
    """Terminal 1 with `card` issued, then two sales under one card sequence (an anomaly once reconciled)."""
    term = make_terminal(tmp_path, 1, Cards(), store)
    term.book("issue", card, 5000, method="cash")
    term.book("sale", card, 1000)
    term.book("sale", card, 500, card_seq=2, balance_before=5000)
    return term


def _anomalies(store: Store) -> list[tuple[int, str]]:
    return sorted((r["card_id"], r["kind"]) for r in store.query("SELECT card_id, kind FROM anomalies"))


def _marks(store: Store) -> set[str]:
    return {r["batch_id"] for r in store.query("SELECT batch_id FROM reconcile_batches")}


def test_a_batch_stored_while_reconciling_keeps_its_mark(tmp_path: Path, store: Store,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cards = Cards()
    t1, t2 = make_terminal(tmp_path, 1, cards, store), make_terminal(tmp_path, 2, cards, store)
    t1.book("issue", 5, 5000, method="cash")
    t1.book("sale", 5, 1000)
    first = _upload(store, t1)
    assert _marks(store) == set(first)
    t2.book("sale", 5, 700, card_seq=2, balance_before=5000)  # a clone of card 5 spent its old balance again
    real = ledger.reconcile
    late: list[str] = []

    def reconcile_then_a_commit(s: Store, card_ids: object = None) -> dict[str, int]:
        counts = real(s, card_ids)  # type: ignore[arg-type]
        late.extend(_upload(s, t2))  # another ingest commits after this run read the marks
        return counts

    monkeypatch.setattr(ledger, "reconcile", reconcile_then_a_commit)
    assert reconcile_pending(store) == {}  # card 5's first batch alone is clean
    monkeypatch.setattr(ledger, "reconcile", real)
    assert late and _marks(store) == set(late)  # only what was read is cleared
    assert _anomalies(store) == []
    assert reconcile_pending(store)  # the next run finds the clone
    assert {kind for card, kind in _anomalies(store) if card == 5}
    assert _marks(store) == set()


def test_a_run_stopped_after_taking_the_batch_marks_leaves_its_cards_marked(tmp_path: Path, store: Store,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _upload(store, _sold_twice(tmp_path, store, 7))

    def killed(_s: Store, _cards: object = None) -> dict[str, int]:
        raise KeyboardInterrupt  # what a SIGKILL leaves: the batch marks taken, no card reconciled

    monkeypatch.setattr(ledger, "reconcile", killed)
    with pytest.raises(KeyboardInterrupt):
        reconcile_pending(store)
    monkeypatch.undo()
    assert _marks(store) == set() and store.scalar("SELECT COUNT(*) FROM reconcile_pending") == 1
    assert reconcile_pending(store) and {card for card, _ in _anomalies(store)} == {7}
    assert store.scalar("SELECT COUNT(*) FROM reconcile_pending") == 0


def test_card_marks_an_older_collector_left_are_still_reconciled(tmp_path: Path, store: Store) -> None:
    _upload(store, _sold_twice(tmp_path, store, 6))
    store.execute("DELETE FROM reconcile_batches")  # the marks a collector before migration 23 wrote instead
    store.execute("INSERT INTO reconcile_pending (card_id) VALUES (6)")
    assert reconcile_pending(store)
    assert [card for card, _ in _anomalies(store)] and {card for card, _ in _anomalies(store)} == {6}
    assert store.scalar("SELECT COUNT(*) FROM reconcile_pending") == 0


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)  # SQLite (WAL, NORMAL) has no such choice
def test_a_many_batch_ingest_returns_once_every_group_is_on_disk(tmp_path: Path, store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store.execute("SET synchronous_commit = on")  # what a production server has (the tests' server: off)
    cards = Cards()
    term = make_terminal(tmp_path, 3, cards, store)
    for card in range(10, 40):
        term.book("issue", card, 1000, method="cash")
    commits: list[str] = []  # the WAL position after each group's commit
    settings: list[str] = []
    real_group, real_lock = ingest._store_group, store.lock_terminals

    def group(*args: object, **kwargs: object) -> object:
        out = real_group(*args, **kwargs)  # type: ignore[arg-type]
        commits.append(store.scalar("SELECT pg_current_wal_insert_lsn()::text"))
        return out

    def lock(ids: object) -> None:
        settings.append(store.scalar("SHOW synchronous_commit"))
        real_lock(ids)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "_store_group", group)
    monkeypatch.setattr(store, "lock_terminals", lock)
    items = [(f"b{b.first_seq}", encode(b)) for b in batches(term.journal, term.key, batch_size=10)]
    results = ingest_many(store, items, workers=0, group_entries=20)
    assert [r.status for r in results] == ["stored"] * len(items) and len(commits) >= 3
    assert settings[:-1] == ["off"] * (len(commits) - 1)  # the groups did not wait for the disk ...
    assert settings[-1] == "on"  # ... the last one did, and with it every one before
    assert store.scalar("SELECT pg_current_wal_flush_lsn() >= ?::pg_lsn", [commits[-1]])
    assert store.scalar("SHOW synchronous_commit") == "on"  # and the session is as it was
    term.book("issue", 50, 1000, method="cash")
    one = [(f"b{b.first_seq}", encode(b)) for b in batches(term.journal, term.key, after=60)]
    assert len(one) == 1 and ingest_many(store, one, workers=0)[0].status == "stored"
    assert settings[-1] == "on"  # a single upload commits durably by itself
