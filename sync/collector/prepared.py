"""A batch made ready for the collector's bulk load, in a worker process: decoded, chain-checked, its entries as
one payload (COPY text for PostgreSQL, row tuples for SQLite) with what ingest needs besides (running totals,
card ids, face-account rows). Needs no key and no database; `sync.collector.ingest` checks the sender and stores."""

from __future__ import annotations

import json
import marshal
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import orjson
from isal import isal_zlib

from sync.collector import operator_totals, product_totals
from sync.collector.entry_totals import group_columns, sum_totals
from sync.collector.storage import decode_copy_text, encode_copy_text
from sync.collector.typed_batch import typed_columns
from sync.format.batch import Batch, BatchError, check_chain, decode_body, inflate

ENTRY_COLUMNS = ("terminal_id", "seq", "hash", "prev_hash", "time", "clock_synced", "operator", "op", "phase", "ref",
                 "card_id", "uid", "card_seq", "amount", "balance_before", "balance_after", "currency", "method",
                 "items", "data")


def _json_text(value: object) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)


def entry_row(e: dict) -> tuple:
    """An entry as a row of the `entries` table (columns `ENTRY_COLUMNS`)."""
    return (e["terminal_id"], e["seq"], e["hash"], e["prev_hash"], e["time"], int(bool(e["clock_synced"])),
            e["operator"], e["op"], e["phase"], e["ref"], e["card_id"], e["uid"], e["card_seq"], e["amount"],
            e["balance_before"], e["balance_after"], e["currency"], e["method"], _json_text(e["items"]),
            _json_text(e["data"]))


INT_COLUMNS = frozenset(i for i, c in enumerate(ENTRY_COLUMNS) if c in (
    "terminal_id", "seq", "clock_synced", "ref", "card_id", "card_seq", "amount", "balance_before", "balance_after"))
_PLAIN_COLUMNS = [(i, itemgetter(c)) for i, c in enumerate(ENTRY_COLUMNS) if c not in ("clock_synced", "items", "data")]
_CLOCK, _ITEMS, _DATA = (ENTRY_COLUMNS.index(c) for c in ("clock_synced", "items", "data"))


def _json_column(values: list) -> list[str]:
    try:
        return [orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode() for v in values]
    except TypeError:
        return [_json_text(v) for v in values]


def entry_columns(entries: list[dict]) -> list[list]:
    """The entries as `entry_row` rows, column by column (one C-level pass per column instead of one call per row)."""
    columns: list[list] = [[]] * len(ENTRY_COLUMNS)
    for i, get in _PLAIN_COLUMNS:
        columns[i] = list(map(get, entries))
    columns[_CLOCK] = [1 if e["clock_synced"] else 0 for e in entries]
    columns[_ITEMS] = _json_column([e["items"] for e in entries])
    columns[_DATA] = _json_column([e["data"] for e in entries])
    return columns


@dataclass
class Prepared:
    """A batch decoded and chain-checked (in a worker process); the collector still checks who sent it.

    Its entries travel as one payload ready for the bulk load: COPY text (`encode_copy_text`) for PostgreSQL, or
    columns for SQLite (`ENTRY_COLUMNS` order, zipped into rows as SQLite takes them); with them what the
    collector needs when every entry is new (the usual case): the totals contribution, the card ids, and the rows
    that may concern face accounts. Hashes are read back from the payload only when the batch overlaps stored
    entries."""

    source: str
    batch: Batch | None = None
    error: str = ""
    count: int = 0
    copy: bytes | None = None
    columns: list[list] = field(default_factory=list)
    totals: dict[tuple, list[int]] = field(default_factory=dict)
    products: dict[tuple, list[int]] = field(default_factory=dict)
    takings: dict[tuple, list[int]] = field(default_factory=dict)
    card_ids: set[int] = field(default_factory=set)
    face: list[tuple] = field(default_factory=list)
    _hashes: list[str] | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        # columns cross the process boundary as one marshal blob: about twice as fast to write as pickle, and
        # a third of the time of the same values as row tuples (no tuple per row to build, write and read)
        return {**self.__dict__, "columns": marshal.dumps(self.columns), "_hashes": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, columns=marshal.loads(state["columns"]))

    def rows(self) -> Iterator[tuple]:
        """The SQLite payload row by row, made as they are consumed (`executemany` takes an iterator)."""
        return zip(*self.columns, strict=True)

    def row_tuples(self) -> list[tuple]:
        return list(self.rows()) if self.copy is None else decode_copy_text(self.copy, INT_COLUMNS)

    def hash_at(self, seq: int) -> str:
        """Hash of this batch's entry `seq`."""
        assert self.batch is not None
        if seq == self.batch.last_seq:
            return self.batch.header["last_hash"]
        if self._hashes is None:
            self._hashes = (self.columns[_HASH] if self.copy is None else
                            [line.split(b"\t", 3)[2].decode() for line in self.copy.split(b"\n")[:-1]])
        return self._hashes[seq - self.batch.first_seq]

    def prev_hash_at(self, seq: int) -> str:
        assert self.batch is not None
        if seq == self.batch.first_seq:
            return self.batch.header["prev_hash"]
        return self.hash_at(seq - 1)

    def without(self, seqs: Container[int]) -> Prepared:
        """The same batch with only the entries whose seq is not in `seqs` (those already stored)."""
        rows = [r for r in self.row_tuples() if r[1] not in seqs]
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in ENTRY_COLUMNS]
        return _with_columns(Prepared(self.source, batch=self.batch), columns, self.copy is not None)


def _with_columns(p: Prepared, columns: list[list], copy_text: bool) -> Prepared:
    cards, data = columns[10], columns[_DATA]
    p.count = len(cards)
    hours = [t[:13] for t in columns[4]]
    groups = group_columns(columns, hours)
    p.totals = sum_totals(groups)
    p.products = product_totals.sum_columns(columns, hours)
    p.takings = operator_totals.sum_groups(groups)
    p.card_ids = set(cards)
    p.card_ids.discard(None)  # type: ignore[arg-type]
    face = [i for i, (card, d) in enumerate(zip(cards, data, strict=True)) if card is None and "face_account" in d]
    if face:  # a superset of what `sync.collector.face.ingest_rows` takes: it applies its own rule
        p.face = [tuple(c[i] for c in columns) for i in face]
    if copy_text:
        p.copy = encode_copy_text(columns)
    else:
        p.columns = _shared(columns)
    return p


_HASH, _PREV = ENTRY_COLUMNS.index("hash"), ENTRY_COLUMNS.index("prev_hash")
_REPEATING = [ENTRY_COLUMNS.index(c) for c in ("operator", "op", "phase", "uid", "currency", "method", "items", "data")]


def _shared(columns: list[list]) -> list[list]:
    """The columns with equal values as one object: an entry's prev_hash is the entry before's hash, and a stall's
    operators, bands, baskets and the like repeat. Marshal writes a repeated object once, so the collector's
    process, which feeds SQLite and is the pipeline's bottleneck there, unpacks about half as many objects."""
    out = list(columns)
    hashes = columns[_HASH]
    out[_PREV] = list(map(dict(zip(hashes, hashes, strict=True)).get, columns[_PREV], columns[_PREV]))
    for i in _REPEATING:
        seen: dict = {}
        out[i] = list(map(seen.setdefault, columns[i], columns[i]))
    return out


def prepared_batch(source: str, batch: Batch, copy_text: bool) -> Prepared:
    """A batch already decoded and chain-checked, as `prepare` makes it."""
    # entries are dropped from the batch: the payload carries them, and pickling both would double the traffic
    slim = Batch(header=batch.header, entries=[], signature=batch.signature)
    return _with_columns(Prepared(source, batch=slim), entry_columns(batch.entries), copy_text)


def prepare(source: str, data: bytes | None = None, copy_text: bool = False) -> Prepared:
    """Decode and chain-check one batch, and build its payload; `data` None reads `source` as a file. `copy_text`:
    the payload as COPY text (a store whose `copy_text` is true), else as row tuples.

    A batch as terminals write it takes the typed path (`sync.collector.typed_batch`, in C); any other, and any
    the typed path does not take, the reference decoder and `check_chain`, which accept it or give the reason."""
    if data is None:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            return Prepared(source, error=f"cannot read batch: {exc.strerror}")
    try:
        body = inflate(data, isal_zlib)  # ISA-L: the same zlib stream, inflated in half the time
    except BatchError as exc:
        return Prepared(source, error=str(exc))
    typed = typed_columns(body)
    if typed is not None:
        return _with_columns(Prepared(source, batch=typed[0]), typed[1], copy_text)
    try:
        batch = decode_body(body)
        check_chain(batch)
    except BatchError as exc:
        return Prepared(source, batch=_maybe(body), error=str(exc))
    return prepared_batch(source, batch, copy_text)


def _maybe(body: bytes) -> Batch | None:
    try:
        b = decode_body(body)
    except BatchError:
        return None
    return Batch(header=b.header, entries=[], signature=b.signature)
