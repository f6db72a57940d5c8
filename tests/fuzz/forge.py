"""Hostile but validly signed inputs: entries re-chained and re-hashed after a change, batches signed by a key
the collector knows, so a test reaches the code behind the signature and chain checks."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.format.batch import MAGIC, encode, make_batch
from terminal.wallet.journal import FIELDS, entry_hash


def rechain(entries: Sequence[dict[str, Any]], prev_hash: str | None = None) -> list[dict[str, Any]]:
    """Entries with consecutive `prev_hash` links and correct hashes, whatever their fields say now."""
    out: list[dict[str, Any]] = []
    prev = entries[0]["prev_hash"] if prev_hash is None else prev_hash
    for e in entries:
        body = {k: e[k] for k in FIELDS}
        body["prev_hash"] = prev
        body["hash"] = entry_hash(body)
        out.append(body)
        prev = body["hash"]
    return out


def forged_batch(entries: Sequence[dict[str, Any]], key: Ed25519PrivateKey, **changes: Any) -> bytes:
    """Every entry gets `changes` (a callable value gets the entry's index), then the run is re-chained, renumbered
    from the first entry's seq and signed: a batch only a terminal holding `key` could have made."""
    first = changes.pop("seq", entries[0]["seq"])
    changed = []
    for i, e in enumerate(entries):
        e = dict(e, seq=first + i)
        for name, value in changes.items():
            e[name] = value(i) if callable(value) else value
        changed.append(e)
    return encode(make_batch(rechain(changed), key))


def nested_json_batch(depth: int = 100_000) -> bytes:
    """An unsigned batch of deeply nested JSON (the 262-byte input the fuzzer found makes parsers recurse)."""
    return MAGIC + zlib.compress(b"[" * depth + b"]" * depth, 9)

