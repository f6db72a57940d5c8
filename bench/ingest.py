"""Ingest rate (entries/s) into SQLite and PostgreSQL vs a plain bulk load (COPY) of the same rows.

Synthetic signed batches from many terminals (no card emulator). Prints JSON.
  .venv/bin/python bench/ingest.py [--entries 1000000] [--terminals 500] [--dsn DSN]
Without --dsn a private PostgreSQL server is started in a temp dir (as the postgres user when root).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.collector.enrollment import enroll
from sync.collector.event import init_event
from sync.collector.ingest import ingest_many
from sync.collector.prepared import ENTRY_COLUMNS, entry_row
from sync.collector.prepared_stream import PARALLEL_FROM, default_workers, start_method
from sync.collector.storage import Store, encode_copy_text, open_store
from sync.format.batch import encode, make_batch
from sync.format.entry import GENESIS, entry_hash
from sync.format.keys import public_hex, signing_key

EVENT = "bench-event"


@contextlib.contextmanager
def temp_postgres() -> Iterator[str]:
    pgbin = max(Path("/usr/lib/postgresql").glob("*/bin"))
    root = tempfile.mkdtemp(prefix="stallpay-bench-pg-")
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = f"{root}/data"
    subprocess.run([*as_user, f"{pgbin}/initdb", "-D", data, "-U", "postgres", "--auth=trust"], check=True,
                   capture_output=True)
    subprocess.run([*as_user, f"{pgbin}/pg_ctl", "-D", data, "-l", f"{root}/log", "-w", "start", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c shared_buffers=256MB"], check=True,
                   capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{pgbin}/pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def synth(entries: int, terminals: int, batch_size: int = 1000) -> tuple[list[tuple[int, str]], list[bytes], list]:
    per = entries // terminals
    keys, blobs, rows = [], [], []
    for t in range(1, terminals + 1):
        key = signing_key(hashlib.sha256(f"bench-{t}".encode()).digest())
        keys.append((t, public_hex(key)))
        prev, chunk = GENESIS, []
        for seq in range(1, per + 1):
            card = (t << 16) | (seq % 200 + 1)
            e = {"seq": seq, "terminal_id": t, "event_id": EVENT, "time": f"2025-07-0{1 + seq % 3}T1{seq % 10}:00:00Z",
                 "clock_synced": True, "operator": "op", "op": "sale" if seq % 5 else "topup", "phase": "commit",
                 "ref": None, "card_id": card, "uid": "04aabbccddeeff", "card_seq": seq, "amount": 100 + seq % 900,
                 "balance_before": 10000, "balance_after": 9000, "currency": "EUR",
                 "method": None if seq % 5 else "cash", "items": [{"name": f"p{seq % 30}", "qty": 1,
                                                                   "unit_price": 100}], "data": {},
                 "prev_hash": prev}
            e["hash"] = prev = entry_hash(e)
            chunk.append(e)
            rows.append(entry_row(e))
            if len(chunk) == batch_size:
                blobs.append(encode(make_batch(chunk, key)))
                chunk = []
        if chunk:
            blobs.append(encode(make_batch(chunk, key)))
    return keys, blobs, rows


def settle(store: Store) -> None:
    """Start a timed PostgreSQL load with nothing left to write from the one before: each load of 1,000,000 rows
    writes about 550 MB of WAL and so starts a checkpoint (default `max_wal_size`), which otherwise goes on writing
    its 200 MB of buffers during the next load, whichever side that is. Needs the right to CHECKPOINT (superuser or
    pg_checkpoint); without it the loads run as they come."""
    if store.dialect == "postgresql":
        with contextlib.suppress(Exception):
            store.execute("CHECKPOINT")


def ingest_rate(target: str, keys: list, blobs: list[bytes], n: int, workers: int | None) -> float:
    """The collector's own ingest (`ingest_many`, as `stallpay collector ingest` runs it), timed end to end."""
    store = open_store(target)
    init_event(store, EVENT, "EUR")
    for t, pub in keys:
        enroll(store, t, pub)
    settle(store)
    start = time.perf_counter()
    results = ingest_many(store, [("bench", b) for b in blobs], workers=workers)
    elapsed = time.perf_counter() - start
    refused = [r for r in results if r.status != "stored"]
    if refused:
        raise SystemExit(f"bench batch refused: {refused[0].reason}")
    store.close()
    return n / elapsed


def bulk_table(target: str) -> Store:
    """An open store with an empty `bulk_entries`: a copy of the entries table with the same indexes."""
    store = open_store(target)
    store.execute("DROP TABLE IF EXISTS bulk_entries")
    if store.dialect == "postgresql":
        store.execute("CREATE TABLE bulk_entries (LIKE entries INCLUDING ALL)")
    else:  # the table and each of its indexes as the migrations left them (the primary key's comes with the table)
        for r in store.query("SELECT type, sql FROM sqlite_master WHERE tbl_name = 'entries' AND sql IS NOT NULL "
                             "ORDER BY type DESC"):
            sql = r["sql"].replace(" ON entries ", " ON bulk_entries ").replace("CREATE TABLE entries",
                                                                               "CREATE TABLE bulk_entries")
            store.execute(sql.replace("CREATE INDEX entries_", "CREATE INDEX bulk_entries_"))
    return store


def copy_rate(target: str, rows: list, text: list[bytes] | None = None) -> float:
    """A plain bulk load of the same rows into a copy of the entries table (same indexes), in one transaction.

    PostgreSQL: one COPY of the rows pre-encoded as COPY text (`text`, built before the clock starts: the fastest
    plain COPY from Python), or, with `text` None, COPY with psycopg's per-row `write_row`. SQLite: the prepared
    insert (`executemany`) of the pre-built row tuples."""
    store = bulk_table(target)
    settle(store)
    start = time.perf_counter()
    with store.transaction():
        if text is not None:
            store.load_copy_text("bulk_entries", ENTRY_COLUMNS, text)
        else:
            store.copy_rows("bulk_entries", ENTRY_COLUMNS, rows)
    rate = len(rows) / (time.perf_counter() - start)
    store.execute("DROP TABLE bulk_entries")
    store.close()
    return rate


def fresh_database(dsn: str, name: str) -> str:
    """A new empty database on the same server, so each run ingests into empty tables."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return psycopg.conninfo.make_conninfo(dsn, dbname=name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--terminals", type=int, default=500)
    ap.add_argument("--dsn")
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs; the best of each is reported")
    ap.add_argument("--workers", type=int, help="processes that verify batches (0: in-process; default: the "
                    "collector's own, one per core but one)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    keys, blobs, rows = synth(args.entries, args.terminals)
    n = len(rows)
    text = [encode_copy_text(list(zip(*rows[i:i + 20_000], strict=True))) for i in range(0, n, 20_000)]
    gen = time.perf_counter() - t0
    gc.freeze()  # the benchmark's own million rows are not the collector's garbage: keep them out of GC passes
    server = contextlib.nullcontext(args.dsn) if args.dsn else temp_postgres()
    # best of `--repeat` alternating runs: the machine may be shared, and the slowest run measures the neighbours
    sqlite_rate = sqlite_bulk = pg_rate = pg_text = pg_write_row = 0.0
    with tempfile.TemporaryDirectory() as tmp, server as dsn:
        for i in range(args.repeat):
            sqlite_rate = max(sqlite_rate, ingest_rate(f"{tmp}/bench{i}.db", keys, blobs, n, args.workers))
            sqlite_bulk = max(sqlite_bulk, copy_rate(f"{tmp}/bench{i}.db", rows))
            Path(f"{tmp}/bench{i}.db").unlink()
            pg_target = fresh_database(dsn, f"bench_ingest_{i}")
            pg_rate = max(pg_rate, ingest_rate(pg_target, keys, blobs, n, args.workers))
            pg_text = max(pg_text, copy_rate(pg_target, rows, text))
            pg_write_row = max(pg_write_row, copy_rate(pg_target, rows))
    pg_bulk = max(pg_text, pg_write_row)  # the baseline is the faster of the two plain COPYs
    workers = default_workers() if args.workers is None else args.workers
    # how ingest_many started its workers: the same answer here (this process runs one thread), none when few
    started = start_method() if workers and len(blobs) >= PARALLEL_FROM else "none"
    print(json.dumps({"entries": n, "terminals": args.terminals, "batches": len(blobs), "workers": workers,
                      "worker_start": started, "repeat": args.repeat,
                      "synthesis_s": round(gen, 1),
                      "sqlite_ingest_per_s": round(sqlite_rate), "sqlite_bulk_insert_per_s": round(sqlite_bulk),
                      "sqlite_ingest_to_bulk_ratio": round(sqlite_rate / sqlite_bulk, 3),
                      "postgresql_ingest_per_s": round(pg_rate), "postgresql_copy_per_s": round(pg_bulk),
                      "postgresql_copy_text_per_s": round(pg_text),
                      "postgresql_copy_write_row_per_s": round(pg_write_row),
                      "postgresql_ingest_to_copy_ratio": round(pg_rate / pg_bulk, 3), "target_ratio": 0.8}, indent=1))


if __name__ == "__main__":
    main()
