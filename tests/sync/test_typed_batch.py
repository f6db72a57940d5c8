"""The typed path (`sync.collector.typed_batch`) is a shortcut for the reference decoder and `check_chain`: it may
only take a batch the reference accepts, and must then give exactly the reference's columns; what it declines, the
reference decides (accepts, or refuses with its reason). Batches as terminals write them must take it."""

from __future__ import annotations

import random
import zlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import sync.collector.prepared as prepared_module
from bench.ingest import synth
from sync.collector.prepared import entry_columns, prepare
from sync.collector.typed_batch import typed_columns
from sync.format.batch import MAGIC, BatchError, check_chain, decode, encode, inflate, make_batch
from tests.fuzz.forge import forged_batch
from tests.sync.test_batch_columns import hostile_batches
from tests.sync.test_ingest_copy import _entries as awkward_entries


def _reference(data: bytes) -> tuple[dict, list[list]] | str:
    try:
        batch = decode(data)
        check_chain(batch)
    except BatchError as exc:
        return f"refused: {exc}"
    return batch.header, entry_columns(batch.entries)


def _typed(data: bytes) -> tuple[dict, list[list]] | None:
    try:
        body = inflate(data)
    except BatchError:
        return None
    typed = typed_columns(body)
    return None if typed is None else (typed[0].header, typed[1])


def _with_body(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    return MAGIC + zlib.compress(change(zlib.decompress(data[len(MAGIC):])))


def test_terminal_batches_take_the_typed_path_with_the_reference_columns() -> None:
    key = Ed25519PrivateKey.generate()
    _keys, blobs, _rows = synth(2_000, 4, batch_size=250)
    # tabs, newlines, backslashes, quotes, emoji and face-account rows in every text field and in items and data
    blobs += [encode(make_batch(awkward_entries(9, 300, random.Random(seed)), key)) for seed in range(3)]
    for data in blobs:
        typed = _typed(data)
        assert typed is not None
        assert typed == _reference(data)


def test_the_typed_path_only_takes_what_the_reference_accepts() -> None:
    inputs, good = hostile_batches(16)
    # altered after signing, not re-hashed: an amount, an operator, an item's quantity, the currency
    inputs += [_with_body(good[0], lambda body, a=a, b=b: body.replace(a, b, 1)) for a, b in [
        (b'"amount":', b'"amount":1'), (b'"operator":"op"', b'"operator":"po"'), (b'"qty":1', b'"qty":9'),
        (b'"currency":"EUR"', b'"currency":"USD"')]]
    taken = declined_but_accepted = 0
    for data in inputs:
        typed = _typed(data)
        if typed is None:
            declined_but_accepted += not isinstance(_reference(data), str)
            continue
        assert typed == _reference(data)
        taken += 1
    assert taken >= 20  # the structured seeds reach the typed path, so it was compared on good batches too
    assert declined_but_accepted  # and some batches it declines are still good ones: the reference takes them


def _odd_batches() -> dict[str, bytes]:
    """Batches the reference accepts that no terminal writes: non-canonical JSON inside `items` (the hash covers
    the canonical form), a truthy integer for `clock_synced`, a field the hash does not cover."""
    _keys, blobs, _rows = synth(40, 1, batch_size=40)
    entries, key = decode(blobs[0]).entries, Ed25519PrivateKey.generate()
    return {
        "whitespace-in-items": _with_body(blobs[0], lambda body: body.replace(b'"items":[{', b'"items":[ {', 1)),
        "clock-as-int": forged_batch(entries, key, clock_synced=1),
        "extra-field": _with_body(blobs[0], lambda body: body.replace(b'{"amount":', b'{"note":"x","amount":', 1)),
    }


@pytest.mark.parametrize("name", ["whitespace-in-items", "clock-as-int", "extra-field"])
def test_what_the_typed_path_declines_the_reference_still_stores(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _odd_batches()[name]
    assert _typed(data) is None and not isinstance(_reference(data), str)
    p = prepare("odd", data, copy_text=True)
    assert not p.error and p.count == 40
    with monkeypatch.context() as m:  # the same payload as the reference path alone gives
        m.setattr(prepared_module, "typed_columns", lambda body: None)
        assert prepare("odd", data, copy_text=True) == p


@pytest.mark.parametrize("copy_text", [True, False])
def test_prepared_payload_is_the_same_on_either_path(copy_text: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    data = encode(make_batch(awkward_entries(5, 200, random.Random(7)), key))
    fast = prepare("t", data, copy_text=copy_text)
    with monkeypatch.context() as m:
        m.setattr(prepared_module, "typed_columns", lambda body: None)
        slow = prepare("t", data, copy_text=copy_text)
    assert fast == slow and fast.count == 200 and fast.face
