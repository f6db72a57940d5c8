"""Collector ingest: verify a batch and store its entries exactly once, whatever the order of arrival.

A batch is refused as a whole, with a reason, when it is corrupt, foreign, from an
unknown or revoked terminal, badly signed, truncated, altered, or when it
contradicts entries already stored (a forked journal). Refusals are logged and
change nothing else. Entries already stored are skipped, so the same batch, or
overlapping batches, can arrive any number of times.

Speed (`ingest_many`): decoding and chain/hash checks run in worker processes
(`sync.collector.prepared`: no key, no database), which also build each batch's bulk-load
payload (COPY text for PostgreSQL, row tuples for SQLite) and what the collector
needs besides (totals contribution, card ids, face-account rows). The collector
checks who sent each batch (one signature per batch), looks up stored
neighbours once per group, and stores groups of batches with one bulk load and
one commit per group, folding new entries into `entry_totals` for reports. A
batch overlapping stored entries takes the slow path: its rows are read back
from the payload and only the new ones are loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path

from sync.collector import entry_totals, operator_totals, product_totals, terminal_report
from sync.collector.enrollment import EnrollmentError, pair
from sync.collector.entry_totals import add_totals
from sync.collector.event import now_iso, require_event
from sync.collector.event_window import stored_window
from sync.collector.face import ingest_rows as ingest_face_rows
from sync.collector.face import record_confirmations
from sync.collector.ledger import face_outside_event
from sync.collector.pair_sums import merge_pairs
from sync.collector.prepared import ENTRY_COLUMNS, Prepared, prepared_batch
from sync.collector.prepared_stream import collecting_rarely, default_workers, prepared_stream
from sync.collector.storage import Store
from sync.format.batch import MAX_SEQ, SUFFIX, Batch, BatchError, check_chain, check_signature

GROUP_ENTRIES = 20_000  # entries committed per transaction by `ingest_many`
EARLY_FLUSH = 2_000  # entries: a smaller group is stored early only when the next batch is not ready
QUERY_TERMS = 200  # ranges or ids per lookup query (SQLite allows 32766 parameters)


@dataclass
class IngestResult:
    source: str
    status: str  # stored | duplicate | refused | paired
    reason: str = ""
    terminal_id: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    new_entries: int = 0
    card_ids: set[int] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.status != "refused"

    def as_dict(self) -> dict:
        return {"source": self.source, "status": self.status, "reason": self.reason, "terminal_id": self.terminal_id,
                "first_seq": self.first_seq, "last_seq": self.last_seq, "new_entries": self.new_entries}


def _refuse(store: Store, source: str, reason: str, terminal_id: int | None = None,
            batch: Batch | None = None) -> IngestResult:
    store.execute("INSERT INTO refusals (received_at, terminal_id, source, reason) VALUES (?, ?, ?, ?)",
                  [now_iso(), terminal_id, source, reason])
    return IngestResult(source=source, status="refused", reason=reason, terminal_id=terminal_id,
                        first_seq=batch.first_seq if batch else None, last_seq=batch.last_seq if batch else None)


def _terminal_id(batch: Batch | None) -> int | None:
    tid = batch.header.get("terminal_id") if batch else None
    return tid if isinstance(tid, int) and not isinstance(tid, bool) and 0 < tid <= 65535 else None


def _terminals(store: Store, group: list[Prepared]) -> dict[int, dict]:
    """The enrolled terminals the group's batches name: one query per `QUERY_TERMS` of them, not one per batch."""
    ids = sorted({tid for p in group if (tid := _terminal_id(p.batch)) is not None})
    rows = store.query_in("SELECT * FROM terminals WHERE terminal_id IN ({marks})", ids, QUERY_TERMS)
    return {r["terminal_id"]: r for r in rows}


def _admit(store: Store, event_id: str, p: Prepared, sender: int | None,
           terminals: dict[int, dict]) -> IngestResult | None:
    """Who sent it: refuse foreign, unknown, revoked, impersonated or badly signed batches (None = admitted).
    `terminals`: the enrolled terminals (`_terminals`), read just before."""
    batch = p.batch
    tid = _terminal_id(batch)
    if batch is not None and batch.header.get("event_id") != event_id:
        return _refuse(store, p.source, f"foreign batch: it belongs to event {batch.header.get('event_id')!r}, "
                                        f"this collector holds {event_id!r}", tid)
    if p.error:
        return _refuse(store, p.source, p.error, sender if sender is not None else tid)
    assert batch is not None
    if tid is None:
        return _refuse(store, p.source, "batch header has no valid terminal id")
    if sender is not None and sender != tid:
        return _refuse(store, p.source, f"terminal {sender} may not upload batches of terminal {tid}", sender)
    terminal = terminals.get(tid)
    if terminal is None:
        return _refuse(store, p.source, f"terminal {tid} is not enrolled with this collector (pair it first)", tid)
    if terminal["status"] == "revoked":
        return _refuse(store, p.source, f"terminal {tid} is revoked; its batches are refused", tid)
    try:
        check_signature(batch, terminal["public_key"])
    except BatchError as exc:
        return _refuse(store, p.source, str(exc), tid)
    return None


def ingest_bytes(store: Store, data: bytes, *, source: str = "upload", terminal_id: int | None = None,
                 received_at: datetime | None = None) -> IngestResult:
    """Ingest one encoded batch. `terminal_id`, when given, is the authenticated sender (HTTP)."""
    return ingest_many(store, [(source, data)], sender=terminal_id, received_at=received_at, workers=0)[0]


def ingest_prepared(store: Store, p: Prepared, *, sender: int | None = None) -> IngestResult:
    """Store one batch `prepare` checked elsewhere (`sync.collector.ingest_pool`); `sender` as in `ingest_bytes`."""
    return _ingest_prepared(store, iter([p]), sender=sender)[0]


def ingest_batch(store: Store, batch: Batch, *, source: str = "upload", sender: int | None = None,
                 received_at: datetime | None = None) -> IngestResult:
    """Ingest an already decoded batch (tests, tools)."""
    try:
        check_chain(batch)
    except BatchError as exc:
        p = Prepared(source, batch=batch, error=str(exc))
    else:
        p = prepared_batch(source, batch, store.copy_text)
    return _ingest_prepared(store, iter([p]), sender=sender, received_at=received_at)[0]


def ingest_many(store: Store, items: Iterable[tuple[str, bytes | None]], *, sender: int | None = None,
                received_at: datetime | None = None, workers: int | None = None, group_entries: int = GROUP_ENTRIES,
                progress: Callable[[int, int, IngestResult], None] | None = None) -> list[IngestResult]:
    """Ingest many batches, (source, bytes) or (path, None): checked in `workers` processes, stored in groups of
    about `group_entries` entries per transaction with one bulk load per group. Results are in input order.
    `workers` None: `default_workers()`."""
    todo = list(items)
    stream = prepared_stream(todo, default_workers() if workers is None else workers, store.copy_text,
                              2 * group_entries)
    with collecting_rarely(len(todo)):
        return _ingest_prepared(store, stream, sender=sender, received_at=received_at, group_entries=group_entries,
                                progress=progress, total=len(todo))


def _ingest_prepared(store: Store, stream: Iterator[Prepared | None], *, sender: int | None = None,
                     received_at: datetime | None = None, group_entries: int = GROUP_ENTRIES,
                     progress: Callable[[int, int, IngestResult], None] | None = None,
                     total: int = 0) -> list[IngestResult]:
    """Store the stream's batches in groups, one transaction each. Only the last group's commit waits for the
    disk, which also puts every commit before it there (the database's log is written in order): the call returns
    with everything durable, as one bulk load would, without a disk flush per group. A database crash meanwhile
    fails the call, and its re-run stores exactly once what was lost."""
    event_id = require_event(store)
    results: list[IngestResult | None] = []
    group: list[tuple[int, Prepared]] = []
    group_rows = 0
    done = 0

    def report(i: int, res: IngestResult) -> None:
        nonlocal done
        results[i] = res
        done += 1
        if progress:
            progress(done, total or len(results), res)

    def flush(durable: bool) -> None:
        nonlocal group_rows
        if group:
            terminals = _terminals(store, [p for _, p in group])
            admitted: list[tuple[int, Prepared]] = []
            for idx, p in group:
                refused = _admit(store, event_id, p, sender, terminals)
                if refused is not None:
                    report(idx, refused)
                else:
                    admitted.append((idx, p))
            if admitted:
                for i, res in _store_group(store, [p for _, p in admitted], received_at, durable=durable):
                    report(admitted[i][0], res)
            group.clear()
            group_rows = 0

    for p in stream:  # a group is stored once the next batch is here, so the last group is never empty
        if p is None:  # the next batch is still being prepared: store what is here rather than wait
            if group_rows >= EARLY_FLUSH:
                flush(durable=False)
            continue
        if group_rows >= group_entries:
            flush(durable=False)
        results.append(None)
        group.append((len(results) - 1, p))
        group_rows += p.count
    flush(durable=True)
    return [r for r in results if r is not None]


def _store_group(store: Store, group: list[Prepared], received_at: datetime | None, *,
                 durable: bool = True) -> list[tuple[int, IngestResult]]:
    """Store admitted batches in one transaction and one bulk load; returns (index in group, result).

    Entries taken earlier in the same group count as stored, so overlapping or repeated batches in one group
    behave exactly as if they had arrived in separate calls."""
    out: list[tuple[int, IngestResult]] = []
    with store.transaction(durable=durable):
        store.lock_terminals(sorted({p.batch.terminal_id for p in group if p.batch}))
        known = _known_batches(store, [p.batch.batch_id for p in group if p.batch])
        near = _stored_near(store, [p.batch for p in group if p.batch and p.batch.batch_id not in known])
        copy_text = store.copy_text
        payload: list = []  # COPY text chunks, or each batch's columns
        totals: dict[tuple, list[int]] = {}
        products: dict[tuple, list[int]] = {}
        takings: dict[tuple, list[int]] = {}
        face: list[tuple] = []
        batch_rows: list[tuple] = []
        taken: dict[int, dict[int, Prepared]] = {}  # terminal -> seq -> batch whose entry was taken in this group
        status: list[list] = []  # terminal status reported by each stored or repeated batch, in order
        pending: list[tuple[str]] = []  # stored batches with card entries: their cards are to be reconciled
        for i, p in enumerate(group):
            batch = p.batch
            assert batch is not None
            tid = batch.terminal_id
            if batch.batch_id in known:
                status.append(_status_params(store, tid, batch, received_at))
                out.append((i, IngestResult(source=p.source, status="duplicate", reason="batch already stored",
                                            terminal_id=tid, first_seq=batch.first_seq, last_seq=batch.last_seq)))
                continue
            mine, stored = taken.setdefault(tid, {}), near.get(tid, {})
            seqs = range(batch.first_seq, batch.last_seq + 1)
            inside: dict[int, str] = {}  # stored entries within the batch's range: seq -> hash
            if not (mine.keys().isdisjoint(seqs) and stored.keys().isdisjoint(seqs)):
                inside = {s: h for s in seqs if (h := _stored_hash(s, mine, stored)) is not None}
            conflict = _conflict(batch, p, _stored_hash(batch.first_seq - 1, mine, stored),
                                 _stored_prev_hash(batch.last_seq + 1, mine, stored), inside)
            if conflict:  # nothing of this batch is written; the refusal is logged
                out.append((i, _refuse(store, p.source, conflict, tid, batch)))
                continue
            new = p.without(inside) if inside else p
            if new.count:
                mine.update(dict.fromkeys(seqs if new is p else [s for s in seqs if s not in inside], p))
                if copy_text:
                    payload.append(new.copy)
                else:
                    payload.append(new.columns)
                entry_totals.merge(totals, new.totals)
                merge_pairs(products, new.products)
                merge_pairs(takings, new.takings)
                face.extend(new.face)
                if new.card_ids:
                    pending.append((batch.batch_id,))
            known.add(batch.batch_id)
            batch_rows.append((batch.batch_id, tid, batch.first_seq, batch.last_seq, batch.header["prev_hash"],
                               batch.header["last_hash"], batch.header["count"], new.count, now_iso(), p.source))
            status.append(_status_params(store, tid, batch, received_at))
            out.append((i, IngestResult(source=p.source, status="stored", terminal_id=tid, first_seq=batch.first_seq,
                                        last_seq=batch.last_seq, new_entries=new.count, card_ids=new.card_ids)))
        if payload:
            if copy_text:
                store.load_copy_text("entries", ENTRY_COLUMNS, payload)
            else:
                rows = chain.from_iterable(zip(*c, strict=True) for c in payload)  # made as SQLite takes them
                store.copy_rows("entries", ENTRY_COLUMNS, rows)
            if face:
                ingest_face_rows(store, face)
                face_outside_event(store, stored_window(store), [(r[0], r[1]) for r in face])
        with store.pipeline():  # nothing below needs an answer before the commit: sent without waiting for one
            if pending:  # committed with the entries: a kill before reconcile leaves the mark (ledger)
                store.executemany("INSERT INTO reconcile_batches (batch_id) VALUES (?) ON CONFLICT DO NOTHING",
                                  pending)
            add_totals(store, totals)
            product_totals.add(store, products)
            operator_totals.add(store, takings)
            if status:
                store.executemany(_STATUS_SQL, status)
            if batch_rows:
                store.executemany("INSERT INTO batches (batch_id, terminal_id, first_seq, last_seq, prev_hash, "
                                  "last_hash, entry_count, new_entries, received_at, source) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_rows)
    return out


def _known_batches(store: Store, ids: list[str]) -> set[str]:
    return {r["batch_id"] for r in store.query_in("SELECT batch_id FROM batches WHERE batch_id IN ({marks})", ids,
                                                  QUERY_TERMS)}


def _stored_near(store: Store, batches: list[Batch]) -> dict[int, dict[int, dict]]:
    """Stored entries in or next to the batches' ranges (one query per group, not one per batch):
    terminal -> seq -> {hash, prev_hash}."""
    ranges: list[list[int]] = []
    for tid, lo, hi in sorted((b.terminal_id, b.first_seq - 1, b.last_seq + 1) for b in batches):
        if ranges and ranges[-1][0] == tid and lo <= ranges[-1][2] + 1:
            ranges[-1][2] = max(ranges[-1][2], hi)
        else:
            ranges.append([tid, lo, hi])
    near: dict[int, dict[int, dict]] = {}
    for at in range(0, len(ranges), QUERY_TERMS):
        part = ranges[at:at + QUERY_TERMS]
        where = " OR ".join(["(terminal_id = ? AND seq BETWEEN ? AND ?)"] * len(part))
        for r in store.query(f"SELECT terminal_id, seq, hash, prev_hash FROM entries WHERE {where}",
                             [v for rng in part for v in rng]):
            near.setdefault(r["terminal_id"], {})[r["seq"]] = r
    return near


def _stored_hash(seq: int, taken: dict[int, Prepared], stored: dict[int, dict]) -> str | None:
    owner = taken.get(seq)
    if owner is not None:
        return owner.hash_at(seq)
    row = stored.get(seq)
    return row["hash"] if row is not None else None


def _stored_prev_hash(seq: int, taken: dict[int, Prepared], stored: dict[int, dict]) -> str | None:
    owner = taken.get(seq)
    if owner is not None:
        return owner.prev_hash_at(seq)
    row = stored.get(seq)
    return row["prev_hash"] if row is not None else None


def _conflict(batch: Batch, p: Prepared, before: str | None, after_prev: str | None, inside: dict[int, str]) -> str:
    """Whether the batch contradicts what is stored: `before` is the stored hash of the entry before it, `after_prev`
    the stored prev_hash of the entry after it, `inside` the stored hashes within its range."""
    if before is not None and before != batch.header["prev_hash"]:
        return (f"chain conflict: batch {batch.first_seq}..{batch.last_seq} does not follow stored entry "
                f"{batch.first_seq - 1} (journal forked or altered)")
    if after_prev is not None and after_prev != batch.header["last_hash"]:
        return (f"chain conflict: stored entry {batch.last_seq + 1} does not follow this batch "
                f"(journal forked or altered)")
    for seq, have in inside.items():
        if have != p.hash_at(seq):
            return f"conflicts with stored entry {seq} (journal forked or altered)"
    return ""


_STATUS_SQL = ("UPDATE terminals SET last_sync = ?, reported_unsynced = COALESCE(?, reported_unsynced), "
               "reported_head_seq = CASE WHEN ? > COALESCE(reported_head_seq, 0) THEN ? ELSE reported_head_seq END, "
               "clock_skew_ms = COALESCE(?, clock_skew_ms), clock_synced = COALESCE(?, clock_synced), "
               "software = COALESCE(?, software), self_test = COALESCE(?, self_test) WHERE terminal_id = ?")


def _status_params(store: Store, tid: int, batch: Batch, received_at: datetime | None) -> list:
    """The terminal status a batch reports, as `_STATUS_SQL` parameters (run for the whole group at once);
    template erasures it confirms are recorded now."""
    st = batch.header.get("status") or {}
    received = received_at or datetime.now(UTC)
    skew = None
    if isinstance(st.get("time"), str) and st.get("online"):
        try:
            said = datetime.fromisoformat(st["time"].replace("Z", "+00:00"))
        except ValueError:
            said = None
        if said is not None and said.tzinfo is not None:  # a moment with no zone cannot be compared: no skew
            skew = int((said - received).total_seconds() * 1000)
    # counts the terminal reports; anything else (a bool, a number beyond the journal's range) is not stored
    unsynced, head = (v if type(v) is int and 0 <= v <= MAX_SEQ else None
                      for v in (st.get("unsynced_entries"), st.get("head_seq")))
    if st.get("face_erasures"):  # the terminal confirms template erasures it has done
        record_confirmations(store, tid, st["face_erasures"])
    return [received.isoformat(), unsynced, head or 0, head or 0, skew,
            int(bool(st["clock_synced"])) if "clock_synced" in st else None, terminal_report.software(st),
            terminal_report.self_test(st), tid]


def contiguous_seq(store: Store, terminal_id: int) -> int:
    """Highest seq such that every entry 1..seq of the terminal is stored (what the terminal may mark delivered)."""
    rows = store.query("SELECT first_seq, last_seq FROM batches WHERE terminal_id = ? ORDER BY first_seq",
                       [terminal_id])
    upto = 0
    for r in rows:
        if r["first_seq"] > upto + 1:
            break
        upto = max(upto, r["last_seq"])
    return upto


def read_pairing_file(store: Store, path: Path) -> IngestResult:
    try:
        req = json.loads(path.read_text(encoding="utf-8"))
        result = pair(store, code=req["code"], event_id=req["event_id"], terminal_id=req["terminal_id"],
                      public_key=req["public_key"], name=req.get("name", ""), mode=req.get("mode", "sale"),
                      face_key=req.get("face_key") or "")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _refuse(store, str(path), f"pairing file is unreadable ({exc.__class__.__name__})")
    except EnrollmentError as exc:
        return _refuse(store, str(path), f"pairing refused: {exc}")
    return IngestResult(source=str(path), status="paired", terminal_id=result["terminal_id"])


def ingest_paths(store: Store, paths: Iterable[Path], progress: Callable[[int, int, IngestResult], None] | None = None,
                 *, workers: int | None = None) -> list[IngestResult]:
    """Ingest every pairing file and batch under the given files/directories (pairing files first)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.rglob("pair-*.json")))
            files.extend(sorted(p.rglob(f"*{SUFFIX}")))
        else:
            files.append(p)
    pairing = [f for f in files if f.name.startswith("pair-") and f.suffix == ".json"]
    batch_files = [f for f in files if not (f.name.startswith("pair-") and f.suffix == ".json")]
    total = len(files)
    results = []
    for i, f in enumerate(pairing, 1):
        res = read_pairing_file(store, f)
        results.append(res)
        if progress:
            progress(i, total, res)
    offset = len(pairing)

    def batch_progress(i: int, _n: int, res: IngestResult) -> None:
        if progress:
            progress(offset + i, total, res)

    results += ingest_many(store, [(str(f), None) for f in batch_files], workers=workers, progress=batch_progress)
    return results
