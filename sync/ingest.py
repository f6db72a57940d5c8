"""Collector ingest: verify a batch and store its entries exactly once, whatever the order of arrival.

A batch is refused as a whole, with a reason, when it is corrupt, foreign, from an
unknown or revoked terminal, badly signed, truncated, altered, or when it
contradicts entries already stored (a forked journal). Refusals are logged and
change nothing else. Entries already stored are skipped, so the same batch, or
overlapping batches, can arrive any number of times.

Speed (`ingest_many`): decoding and chain/hash checks run in worker processes
(they need no key and no database); the collector then checks who sent each
batch (one signature per batch) and stores groups of batches with one bulk load
and one commit per group, folding new entries into `entry_totals` for reports.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from sync.batch import SUFFIX, Batch, BatchError, check_chain, check_signature, decode
from sync.enrollment import EnrollmentError, get_terminal, pair
from sync.event import now_iso, require_event
from sync.face import ingest_rows as ingest_face_rows
from sync.face import record_confirmations
from sync.storage import Store

ENTRY_COLUMNS = ("terminal_id", "seq", "hash", "prev_hash", "time", "clock_synced", "operator", "op", "phase", "ref",
                 "card_id", "uid", "card_seq", "amount", "balance_before", "balance_after", "currency", "method",
                 "items", "data")
GROUP_ENTRIES = 20_000  # entries committed per transaction by `ingest_many`
PARALLEL_FROM = 8  # batches: below this, worker processes cost more than they save


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


@dataclass
class Prepared:
    """A batch decoded and chain-checked (in a worker process); the collector still checks who sent it."""

    source: str
    batch: Batch | None = None
    rows: list[tuple] = field(default_factory=list)
    error: str = ""

    @property
    def hashes(self) -> dict[int, str]:
        return {r[1]: r[2] for r in self.rows}


def prepare(source: str, data: bytes | None = None) -> Prepared:
    """Decode and chain-check one batch, and build its rows; `data` None reads `source` as a file."""
    if data is None:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            return Prepared(source, error=f"cannot read batch: {exc.strerror}")
    try:
        batch = decode(data)
        check_chain(batch)
    except BatchError as exc:
        return Prepared(source, batch=_maybe(data), error=str(exc))
    # entries are dropped from the batch: the rows carry them, and pickling both would double the traffic
    slim = Batch(header=batch.header, entries=[], signature=batch.signature)
    return Prepared(source, batch=slim, rows=[entry_row(e) for e in batch.entries])


def _maybe(data: bytes) -> Batch | None:
    try:
        b = decode(data)
    except BatchError:
        return None
    return Batch(header=b.header, entries=[], signature=b.signature)


def _refuse(store: Store, source: str, reason: str, terminal_id: int | None = None,
            batch: Batch | None = None) -> IngestResult:
    store.execute("INSERT INTO refusals (received_at, terminal_id, source, reason) VALUES (?, ?, ?, ?)",
                  [now_iso(), terminal_id, source, reason])
    return IngestResult(source=source, status="refused", reason=reason, terminal_id=terminal_id,
                        first_seq=batch.first_seq if batch else None, last_seq=batch.last_seq if batch else None)


def _terminal_id(batch: Batch | None) -> int | None:
    tid = batch.header.get("terminal_id") if batch else None
    return tid if isinstance(tid, int) and not isinstance(tid, bool) and 0 < tid <= 65535 else None


def _admit(store: Store, event_id: str, p: Prepared, sender: int | None) -> IngestResult | None:
    """Who sent it: refuse foreign, unknown, revoked, impersonated or badly signed batches (None = admitted)."""
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
    terminal = get_terminal(store, tid)
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


def ingest_batch(store: Store, batch: Batch, *, source: str = "upload", sender: int | None = None,
                 received_at: datetime | None = None) -> IngestResult:
    """Ingest an already decoded batch (tests, tools)."""
    try:
        check_chain(batch)
    except BatchError as exc:
        p = Prepared(source, batch=batch, error=str(exc))
    else:
        p = Prepared(source, batch=batch, rows=[entry_row(e) for e in batch.entries])
    return _ingest_prepared(store, iter([p]), sender=sender, received_at=received_at)[0]


def _prepared_stream(items: list[tuple[str, bytes | None]], workers: int) -> Iterator[Prepared]:
    """Prepare batches in worker processes, in order, with a bounded number in flight (memory stays flat)."""
    if workers <= 0 or len(items) < PARALLEL_FROM:
        for source, data in items:
            yield prepare(source, data)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding database connections and threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        window: deque[Future] = deque()
        todo = iter(items)
        for source, data in todo:
            window.append(pool.submit(prepare, source, data))
            if len(window) >= workers * 3:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def ingest_many(store: Store, items: Iterable[tuple[str, bytes | None]], *, sender: int | None = None,
                received_at: datetime | None = None, workers: int = 2, group_entries: int = GROUP_ENTRIES,
                progress: Callable[[int, int, IngestResult], None] | None = None) -> list[IngestResult]:
    """Ingest many batches, (source, bytes) or (path, None): checked in `workers` processes, stored in groups of
    about `group_entries` entries per transaction with one bulk load per group. Results are in input order."""
    todo = list(items)
    return _ingest_prepared(store, _prepared_stream(todo, workers), sender=sender, received_at=received_at,
                            group_entries=group_entries, progress=progress, total=len(todo))


def _ingest_prepared(store: Store, stream: Iterator[Prepared], *, sender: int | None = None,
                     received_at: datetime | None = None, group_entries: int = GROUP_ENTRIES,
                     progress: Callable[[int, int, IngestResult], None] | None = None,
                     total: int = 0) -> list[IngestResult]:
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

    def flush() -> None:
        nonlocal group_rows
        if group:
            for i, res in _store_group(store, [p for _, p in group], received_at):
                report(group[i][0], res)
            group.clear()
            group_rows = 0

    for p in stream:
        results.append(None)
        idx = len(results) - 1
        refused = _admit(store, event_id, p, sender)
        if refused is not None:
            report(idx, refused)
            continue
        group.append((idx, p))
        group_rows += len(p.rows)
        if group_rows >= group_entries:
            flush()
    flush()
    return [r for r in results if r is not None]


def _store_group(store: Store, group: list[Prepared], received_at: datetime | None) -> list[tuple[int, IngestResult]]:
    """Store admitted batches in one transaction and one bulk load; returns (index in group, result).

    Entries taken earlier in the same group count as stored, so overlapping or repeated batches in one group
    behave exactly as if they had arrived in separate calls."""
    out: list[tuple[int, IngestResult]] = []
    with store.transaction():
        for tid in sorted({p.batch.terminal_id for p in group if p.batch}):
            store.lock_terminal(tid)
        ids = [p.batch.batch_id for p in group if p.batch]
        known = {r["batch_id"] for r in store.query(
            f"SELECT batch_id FROM batches WHERE batch_id IN ({', '.join('?' * len(ids))})", ids)}
        rows: list[tuple] = []
        batch_rows: list[tuple] = []
        taken: dict[int, dict[int, dict]] = {}  # terminal -> seq -> entry taken in this group, not yet loaded
        for i, p in enumerate(group):
            batch = p.batch
            assert batch is not None
            tid = batch.terminal_id
            if batch.batch_id in known:
                _update_status(store, tid, batch, received_at)
                out.append((i, IngestResult(source=p.source, status="duplicate", reason="batch already stored",
                                            terminal_id=tid, first_seq=batch.first_seq, last_seq=batch.last_seq)))
                continue
            stored = {r["seq"]: r for r in store.query(
                "SELECT seq, hash, prev_hash FROM entries WHERE terminal_id = ? AND seq BETWEEN ? AND ?",
                [tid, batch.first_seq - 1, batch.last_seq + 1])}
            mine = taken.setdefault(tid, {})
            if mine:
                stored.update((s, mine[s]) for s in range(batch.first_seq - 1, batch.last_seq + 2) if s in mine)
            conflict = _conflict(batch, p.hashes, stored)
            if conflict:  # nothing of this batch is written; the refusal is logged
                out.append((i, _refuse(store, p.source, conflict, tid, batch)))
                continue
            new = [r for r in p.rows if r[1] not in stored] if stored else p.rows
            rows.extend(new)
            mine.update((r[1], {"hash": r[2], "prev_hash": r[3]}) for r in new)
            known.add(batch.batch_id)
            batch_rows.append((batch.batch_id, tid, batch.first_seq, batch.last_seq, batch.header["prev_hash"],
                               batch.header["last_hash"], batch.header["count"], len(new), now_iso(), p.source))
            _update_status(store, tid, batch, received_at)
            out.append((i, IngestResult(source=p.source, status="stored", terminal_id=tid, first_seq=batch.first_seq,
                                        last_seq=batch.last_seq, new_entries=len(new),
                                        card_ids={r[10] for r in new if r[10] is not None})))
        if rows:
            store.copy_rows("entries", ENTRY_COLUMNS, rows)
            add_totals(store, rows)
            ingest_face_rows(store, rows)
        if batch_rows:
            store.executemany("INSERT INTO batches (batch_id, terminal_id, first_seq, last_seq, prev_hash, last_hash, "
                              "entry_count, new_entries, received_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              batch_rows)
    return out


def add_totals(store: Store, rows: list[tuple]) -> None:
    """Fold new entry rows into `entry_totals` (the reports' running sums)."""
    sums: dict[tuple, list[int]] = {}
    for r in rows:
        key = (r[0], r[4][:13], r[7], r[8], r[17] or "")
        t = sums.get(key)
        delta = (r[15] or 0) - (r[14] or 0)
        if t is None:
            sums[key] = [1, r[13], delta]
        else:
            t[0] += 1
            t[1] += r[13]
            t[2] += delta
    store.executemany("INSERT INTO entry_totals (terminal_id, hour, op, phase, method, n, amount, delta) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (terminal_id, hour, op, phase, method) DO UPDATE "
                      "SET n = entry_totals.n + excluded.n, amount = entry_totals.amount + excluded.amount, "
                      "delta = entry_totals.delta + excluded.delta", [(*k, *v) for k, v in sums.items()])


def rebuild_totals(store: Store) -> None:
    """Recompute `entry_totals` from every entry (after entries were loaded by other means, e.g. a benchmark)."""
    with store.transaction():
        store.execute("DELETE FROM entry_totals")
        store.execute("INSERT INTO entry_totals (terminal_id, hour, op, phase, method, n, amount, delta) "
                      "SELECT terminal_id, substr(time, 1, 13), op, phase, COALESCE(method, ''), COUNT(*), "
                      "SUM(amount), SUM(COALESCE(balance_after, 0) - COALESCE(balance_before, 0)) FROM entries "
                      "GROUP BY terminal_id, substr(time, 1, 13), op, phase, COALESCE(method, '')")


def _conflict(batch: Batch, hashes: dict[int, str], stored: dict[int, dict]) -> str:
    before = stored.get(batch.first_seq - 1)
    if before is not None and before["hash"] != batch.header["prev_hash"]:
        return (f"chain conflict: batch {batch.first_seq}..{batch.last_seq} does not follow stored entry "
                f"{batch.first_seq - 1} (journal forked or altered)")
    after = stored.get(batch.last_seq + 1)
    if after is not None and after["prev_hash"] != batch.header["last_hash"]:
        return (f"chain conflict: stored entry {batch.last_seq + 1} does not follow this batch "
                f"(journal forked or altered)")
    for seq, have in stored.items():
        if seq in hashes and have["hash"] != hashes[seq]:
            return f"conflicts with stored entry {seq} (journal forked or altered)"
    return ""


def _update_status(store: Store, tid: int, batch: Batch, received_at: datetime | None) -> None:
    st = batch.header.get("status") or {}
    received = received_at or datetime.now(UTC)
    skew = None
    if isinstance(st.get("time"), str) and st.get("online"):
        try:
            skew = int((datetime.fromisoformat(st["time"].replace("Z", "+00:00")) - received).total_seconds() * 1000)
        except ValueError:
            skew = None
    unsynced = st.get("unsynced_entries") if isinstance(st.get("unsynced_entries"), int) else None
    head = st.get("head_seq") if isinstance(st.get("head_seq"), int) else None
    store.execute("UPDATE terminals SET last_sync = ?, reported_unsynced = COALESCE(?, reported_unsynced), "
                  "reported_head_seq = CASE WHEN ? > COALESCE(reported_head_seq, 0) THEN ? ELSE reported_head_seq END, "
                  "clock_skew_ms = COALESCE(?, clock_skew_ms), clock_synced = COALESCE(?, clock_synced) "
                  "WHERE terminal_id = ?",
                  [received.isoformat(), unsynced, head or 0, head or 0, skew,
                   int(bool(st["clock_synced"])) if "clock_synced" in st else None, tid])
    if st.get("face_erasures"):  # the terminal confirms template erasures it has done
        record_confirmations(store, tid, st["face_erasures"])


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
                      public_key=req["public_key"], name=req.get("name", ""))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _refuse(store, str(path), f"pairing file is unreadable ({exc.__class__.__name__})")
    except EnrollmentError as exc:
        return _refuse(store, str(path), f"pairing refused: {exc}")
    return IngestResult(source=str(path), status="paired", terminal_id=result["terminal_id"])


def ingest_paths(store: Store, paths: Iterable[Path], progress: Callable[[int, int, IngestResult], None] | None = None,
                 *, workers: int = 2) -> list[IngestResult]:
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
