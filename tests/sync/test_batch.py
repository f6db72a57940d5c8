"""Batch format: signed, compressed, chain-checked; every kind of damage refused with its reason."""

from __future__ import annotations

import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from sync.format.batch import MAGIC, BatchError, check, decode, encode, make_batch
from sync.format.keys import public_hex
from terminal.uplink.export import batches, export_to_dir
from terminal.wallet.journal import entry_hash
from tests.sync.journals import Cards, make_terminal


@pytest.fixture
def term(tmp_path: Path):  # type: ignore[no-untyped-def]
    t = make_terminal(tmp_path, 1, Cards())
    t.book("issue", 1, 5000, method="cash")
    t.book("sale", 1, 1200, items=[{"name": "beer", "qty": 2, "price": 600}])
    t.book("topup", 1, 1000, method="card")
    return t


def test_round_trip_verifies(term) -> None:  # type: ignore[no-untyped-def]
    batch = make_batch(term.journal.export(), term.key)
    again = decode(encode(batch))
    check(again, public_hex(term.key))
    assert again.first_seq == 1 and again.last_seq == 6 and again.batch_id == batch.batch_id


def test_tampered_amount_is_refused(term) -> None:  # type: ignore[no-untyped-def]
    batch = make_batch(term.journal.export(), term.key)
    batch.entries[3]["amount"] = 1
    with pytest.raises(BatchError, match="entry 4 was altered"):
        check(batch, public_hex(term.key))


def test_rehashed_tampering_breaks_the_chain(term) -> None:  # type: ignore[no-untyped-def]
    batch = make_batch(term.journal.export(), term.key)
    batch.entries[3]["amount"] = 1
    batch.entries[3]["hash"] = entry_hash(batch.entries[3])
    with pytest.raises(BatchError, match="chain broken before entry 5"):
        check(batch, public_hex(term.key))


def test_removed_entry_is_truncation(term) -> None:  # type: ignore[no-untyped-def]
    batch = make_batch(term.journal.export(), term.key)
    del batch.entries[-1]
    with pytest.raises(BatchError, match="truncated: header says 6 entries, found 5"):
        check(batch, public_hex(term.key))


def test_truncated_bytes_are_refused(term) -> None:  # type: ignore[no-untyped-def]
    data = encode(make_batch(term.journal.export(), term.key))
    with pytest.raises(BatchError, match=r"truncated|corrupt"):
        decode(data[: len(data) // 2])


def test_not_a_batch(term) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BatchError, match="bad magic"):
        decode(b"hello")
    with pytest.raises(BatchError, match="not the batch JSON layout"):
        decode(MAGIC + zlib.compress(b"[1, 2]"))


def test_other_key_is_a_bad_signature(term, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = make_terminal(tmp_path / "x", 1, Cards())
    batch = make_batch(term.journal.export(), term.key)
    with pytest.raises(BatchError, match="bad signature"):
        check(batch, public_hex(other.key))
    forged = replace(batch, header={**batch.header, "last_seq": 7, "count": 7})
    with pytest.raises(BatchError, match="bad signature"):
        check(forged, public_hex(term.key))


def test_export_is_aligned_and_never_marks_delivered(term, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = [(b.first_seq, b.last_seq) for b in batches(term.journal, term.key, batch_size=4)]
    assert first == [(1, 4), (5, 6)]
    assert [(b.first_seq, b.last_seq) for b in batches(term.journal, term.key, after=2, batch_size=4)] == [
        (3, 4), (5, 6)]
    paths = export_to_dir(term.journal, term.key, tmp_path / "usb", batch_size=4)
    assert len(paths) == 2 and all(p.exists() for p in paths)
    assert term.journal.undelivered_count() == 6
