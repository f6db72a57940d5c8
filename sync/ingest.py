"""Collector ingest: verify a batch and store its entries exactly once, whatever the order of arrival.

A batch is refused as a whole, with a reason, when it is corrupt, foreign, from an
unknown or revoked terminal, badly signed, truncated, altered, or when it
contradicts entries already stored (a forked journal). Refusals are logged and
change nothing else. Entries already stored are skipped, so the same batch, or
overlapping batches, can arrive any number of times.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sync.batch import SUFFIX, Batch, BatchError, check, decode
from sync.enrollment import EnrollmentError, get_terminal, pair
from sync.event import now_iso, require_event
from sync.storage import Store

ENTRY_COLUMNS = ("terminal_id", "seq", "hash", "prev_hash", "time", "clock_synced", "operator", "op", "phase", "ref",
                 "card_id", "uid", "card_seq", "amount", "balance_before", "balance_after", "currency", "method",
                 "items", "data")


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


def _row(e: dict) -> tuple:
    return (e["terminal_id"], e["seq"], e["hash"], e["prev_hash"], e["time"], int(bool(e["clock_synced"])),
            e["operator"], e["op"], e["phase"], e["ref"], e["card_id"], e["uid"], e["card_seq"], e["amount"],
            e["balance_before"], e["balance_after"], e["currency"], e["method"],
            json.dumps(e["items"], ensure_ascii=False, sort_keys=True),
            json.dumps(e["data"], ensure_ascii=False, sort_keys=True))


def _refuse(store: Store, source: str, reason: str, terminal_id: int | None = None,
            batch: Batch | None = None) -> IngestResult:
    store.execute("INSERT INTO refusals (received_at, terminal_id, source, reason) VALUES (?, ?, ?, ?)",
                  [now_iso(), terminal_id, source, reason])
    return IngestResult(source=source, status="refused", reason=reason, terminal_id=terminal_id,
                        first_seq=batch.first_seq if batch else None, last_seq=batch.last_seq if batch else None)


def ingest_bytes(store: Store, data: bytes, *, source: str = "upload", terminal_id: int | None = None,
                 received_at: datetime | None = None) -> IngestResult:
    """Ingest one encoded batch. `terminal_id`, when given, is the authenticated sender (HTTP)."""
    try:
        batch = decode(data)
    except BatchError as exc:
        return _refuse(store, source, str(exc), terminal_id)
    return ingest_batch(store, batch, source=source, sender=terminal_id, received_at=received_at)


def ingest_batch(store: Store, batch: Batch, *, source: str = "upload", sender: int | None = None,
                 received_at: datetime | None = None) -> IngestResult:
    event_id = require_event(store)
    tid = batch.header.get("terminal_id")
    tid = tid if isinstance(tid, int) and not isinstance(tid, bool) else None
    if batch.header.get("event_id") != event_id:
        return _refuse(store, source, f"foreign batch: it belongs to event {batch.header.get('event_id')!r}, "
                                      f"this collector holds {event_id!r}", tid, None)
    if tid is None:
        return _refuse(store, source, "batch header has no valid terminal id")
    if sender is not None and sender != tid:
        return _refuse(store, source, f"terminal {sender} may not upload batches of terminal {tid}", sender)
    terminal = get_terminal(store, tid)
    if terminal is None:
        return _refuse(store, source, f"terminal {tid} is not enrolled with this collector (pair it first)", tid)
    if terminal["status"] == "revoked":
        return _refuse(store, source, f"terminal {tid} is revoked; its batches are refused", tid)
    try:
        check(batch, terminal["public_key"])
    except BatchError as exc:
        return _refuse(store, source, str(exc), tid)
    with store.transaction():
        store.lock_terminal(tid)
        if store.scalar("SELECT 1 FROM batches WHERE batch_id = ?", [batch.batch_id]):
            _update_status(store, tid, batch, received_at)
            return IngestResult(source=source, status="duplicate", reason="batch already stored", terminal_id=tid,
                                first_seq=batch.first_seq, last_seq=batch.last_seq)
        stored = {r["seq"]: r for r in store.query(
            "SELECT seq, hash, prev_hash FROM entries WHERE terminal_id = ? AND seq BETWEEN ? AND ?",
            [tid, batch.first_seq - 1, batch.last_seq + 1])}
        conflict = _conflict(batch, stored)
        if not conflict:  # on a conflict nothing was written; the refusal is logged below
            new = [e for e in batch.entries if e["seq"] not in stored]
            if new:
                store.copy_rows("entries", ENTRY_COLUMNS, [_row(e) for e in new])
            store.execute("INSERT INTO batches (batch_id, terminal_id, first_seq, last_seq, prev_hash, last_hash, "
                          "entry_count, new_entries, received_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [batch.batch_id, tid, batch.first_seq, batch.last_seq, batch.header["prev_hash"],
                           batch.header["last_hash"], batch.header["count"], len(new), now_iso(), source])
            _update_status(store, tid, batch, received_at)
            cards = {e["card_id"] for e in new if e["card_id"] is not None}
            return IngestResult(source=source, status="stored", terminal_id=tid, first_seq=batch.first_seq,
                                last_seq=batch.last_seq, new_entries=len(new), card_ids=cards)
    return _refuse(store, source, conflict, tid, batch)


def _conflict(batch: Batch, stored: dict[int, dict]) -> str:
    before = stored.get(batch.first_seq - 1)
    if before is not None and before["hash"] != batch.header["prev_hash"]:
        return (f"chain conflict: batch {batch.first_seq}..{batch.last_seq} does not follow stored entry "
                f"{batch.first_seq - 1} (journal forked or altered)")
    after = stored.get(batch.last_seq + 1)
    if after is not None and after["prev_hash"] != batch.header["last_hash"]:
        return (f"chain conflict: stored entry {batch.last_seq + 1} does not follow this batch "
                f"(journal forked or altered)")
    for e in batch.entries:
        have = stored.get(e["seq"])
        if have is not None and have["hash"] != e["hash"]:
            return f"conflicts with stored entry {e['seq']} (journal forked or altered)"
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


def ingest_paths(store: Store, paths: Iterable[Path],
                 progress: Callable[[int, int, IngestResult], None] | None = None) -> list[IngestResult]:
    """Ingest every pairing file and batch under the given files/directories (pairing files first)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.rglob("pair-*.json")))
            files.extend(sorted(p.rglob(f"*{SUFFIX}")))
        else:
            files.append(p)
    results = []
    for i, f in enumerate(files, 1):
        if f.name.startswith("pair-") and f.suffix == ".json":
            res = read_pairing_file(store, f)
        else:
            try:
                data = f.read_bytes()
            except OSError as exc:
                res = _refuse(store, str(f), f"cannot read batch: {exc.strerror}")
            else:
                res = ingest_bytes(store, data, source=str(f))
        results.append(res)
        if progress:
            progress(i, len(files), res)
    return results
