"""A batch decoded straight into typed entries (msgspec): the collector's fast path for the batches terminals send.

The reference path (`sync.format.batch.decode` and `check_chain`) builds a dict per entry, checks each field's
type in Python and re-encodes every entry with its keys sorted to recompute its hash: about 9 µs of one core per
entry, more than a bulk load of the finished row. Here msgspec parses the JSON into typed records in C, checking
types and ranges as it goes; `items` and `data` stay the JSON text the terminal sent (what the `entries` table
stores); each entry is re-encoded in C, sorted, for its hash.

It accepts only what it can prove, and says nothing about the rest: `prepare_typed` returns None for anything it
does not take (a field of another type or an extra one, an entry whose hash is not that of msgspec's encoding of
its fields, a broken chain), and the caller runs the reference path, which accepts or refuses with the reason.
Why an accepted entry is the one the terminal hashed: its hash is SHA-256 of the encoding of the very values that
are stored (the raw `items`/`data` text included), and the chain of hashes ends in the signed `last_hash`.
"""

from __future__ import annotations

from collections import deque
from hashlib import sha256
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Raw, Struct

from sync.format.batch import BIGINT, MAX_AMOUNT, MAX_ENTRIES, Batch, BatchError, check_header

_Big = Annotated[int, Meta(ge=-BIGINT, le=BIGINT)]
_Amount = Annotated[int, Meta(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]


class Entry(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An entry as a terminal sends it. Fields in `sync.collector.prepared.ENTRY_COLUMNS` order (so a record's
    tuple is nearly its row), then `event_id`; `hash` last, with a default, so that once blanked the encoder omits
    it and what remains is exactly what the hash covers (`sync.format.entry.FIELDS`)."""

    terminal_id: int
    seq: int
    prev_hash: str
    time: str
    clock_synced: bool
    operator: str | None
    op: str
    phase: str
    ref: _Big | None
    card_id: _Big | None
    uid: str | None
    card_seq: _Big | None
    amount: _Amount
    balance_before: _Amount | None
    balance_after: _Amount | None
    currency: str
    method: str | None
    items: Raw
    data: Raw
    event_id: str
    hash: str = ""


class _Body(Struct):
    entries: list[Entry]
    header: dict[str, Any]
    signature: str


_DECODER = msgspec.json.Decoder(_Body)
_ENCODE = msgspec.json.Encoder(order="sorted").encode  # keys sorted, no spaces: `sync.format.entry.canonical`
_HEXDIGEST = methodcaller("hexdigest")
_FIRST = itemgetter(0)
_TEXT = (3, 6, 7, 15)  # time, op, phase, currency (in an Entry's tuple)
_OPTIONAL_TEXT = (5, 10, 16)  # operator, uid, method


def typed_columns(body: bytes) -> tuple[Batch, list[list]] | None:
    """The batch in `body` (as `inflate` gives it) and its entries as columns in `ENTRY_COLUMNS` order, when every
    check of `check_chain` passes here; None when the reference path must decide."""
    try:
        parsed = _DECODER.decode(body)
    except msgspec.DecodeError:  # ValidationError included
        return None
    batch = Batch(header=parsed.header, entries=[], signature=parsed.signature)
    try:
        check_header(batch)
    except BatchError:
        return None
    h, entries = batch.header, parsed.entries
    n, first = len(entries), h["first_seq"]
    if not 1 <= n <= MAX_ENTRIES or n != h["count"] or h["last_seq"] - first + 1 != n:
        return None
    columns = list(zip(*map(msgspec.structs.astuple, entries), strict=True))
    tids, seqs, prevs, hashes, events = columns[0], columns[1], columns[2], columns[20], columns[19]
    if (seqs != tuple(range(first, first + n)) or tids.count(h["terminal_id"]) != n
            or events.count(h["event_id"]) != n or prevs != (h["prev_hash"], *hashes[:-1])
            or hashes[-1] != h["last_hash"]):
        return None
    try:
        items = list(map(str, columns[17], repeat("utf-8")))  # Raw is a buffer: decoded in one call
        data = list(map(str, columns[18], repeat("utf-8")))
    except UnicodeDecodeError:
        return None
    if set(map(_FIRST, items)) != {"["} or set(map(_FIRST, data)) != {"{"}:
        return None
    # PostgreSQL text cannot hold NUL: the reference path names the entry. Joining each column is a few times
    # cheaper than searching the whole body for an escaped NUL.
    if (any("\x00" in "".join(columns[i]) for i in _TEXT)
            or any("\x00" in "".join(filter(None, columns[i])) for i in _OPTIONAL_TEXT)):
        return None
    deque(map(setattr, entries, repeat("hash", n), repeat("", n)), maxlen=0)  # omitted from the encoding
    try:
        if list(map(_HEXDIGEST, map(sha256, map(_ENCODE, entries)))) != list(hashes):
            return None
    except (TypeError, ValueError):
        return None
    rows = [list(c) for c in columns[:17]]
    rows[4] = list(map(int, columns[4]))  # clock_synced as 1/0
    return batch, [rows[0], rows[1], list(hashes), *rows[2:], items, data]
