"""The column-wise chain check (`sync.format.batch._chain_holds`) is a shortcut for the per-entry loop: it may only ever
accept what the loop accepts, and a refusal still names the entry and the reason the loop gives."""

from __future__ import annotations

import contextlib
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import sync.format.batch as batch_module
from bench.ingest import synth
from sync.format.batch import BatchError, check_chain, decode
from terminal.wallet.journal import FIELDS
from tests.fuzz.forge import forged_batch
from tests.fuzz.fuzzer import HOSTILE, _maybe_inflated, batch_seed
from tests.fuzz.targets import corpus


def _verdict(data: bytes, columns: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        if not columns:
            m.setattr(batch_module, "_chain_holds", lambda b: False)
        try:
            check_chain(decode(data))
        except BatchError as exc:
            return f"refused: {exc}"
    return "accepted"


def _at(index: int, entries: list[dict], name: str, value: object):  # type: ignore[no-untyped-def]
    """A `forged_batch` change: `value` for entry `index`, the field as it was for the others."""
    return lambda i: value if i == index else entries[i][name]


def hostile_batches(seed: int) -> tuple[list[bytes], list[bytes]]:
    """Inputs to compare two batch checks on, and the good batches among them: structured and mutated fuzz seeds,
    the fuzz corpus, synthetic terminal batches, and one forged batch per field and hostile value."""
    rng = random.Random(seed)
    inputs = [batch_seed(rng) for _ in range(600)]
    inputs += [_maybe_inflated("batch", rng.choice(inputs), rng) for _ in range(600)]
    inputs += [p.read_bytes() for p in corpus("batch")]
    _keys, good, _rows = synth(600, 2, batch_size=50)
    inputs += good
    entries = decode(good[0]).entries[:4]
    key = Ed25519PrivateKey.generate()
    for name in FIELDS:
        if name in ("prev_hash", "seq"):
            continue
        for value in HOSTILE:  # every field, every hostile value: re-hashed and re-chained, so types decide
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                inputs.append(forged_batch(entries, key, **{name: _at(2, entries, name, value)}))
    return inputs, good


def test_columns_and_loop_agree_on_hostile_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, _good = hostile_batches(15)
    accepted = 0
    for data in inputs:
        try:
            decode(data)
        except BatchError:
            continue
        loop = _verdict(data, False, monkeypatch)
        assert _verdict(data, True, monkeypatch) == loop
        accepted += loop == "accepted"
    assert accepted >= 20  # the structured seeds reach acceptance, so both paths were compared on good batches too
