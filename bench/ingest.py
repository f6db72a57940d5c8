"""Ingest rate (entries/s) into SQLite and PostgreSQL vs a plain bulk load (COPY) of the same rows.

Synthetic signed batches from many terminals (no card emulator). Prints JSON.
  .venv/bin/python bench/ingest.py [--entries 1000000] [--terminals 500] [--dsn DSN]
Without --dsn a private PostgreSQL server is started in a temp dir (as the postgres user when root).
"""

from __future__ import annotations

import argparse
import contextlib
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

from sync.batch import encode, make_batch
from sync.enrollment import enroll
from sync.event import init_event
from sync.ingest import ENTRY_COLUMNS, _row, ingest_bytes
from sync.keys import public_hex, signing_key
from sync.storage import open_store
from terminal.wallet.journal import GENESIS, entry_hash

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
            rows.append(_row(e))
            if len(chunk) == batch_size:
                blobs.append(encode(make_batch(chunk, key)))
                chunk = []
        if chunk:
            blobs.append(encode(make_batch(chunk, key)))
    return keys, blobs, rows


def ingest_rate(target: str, keys: list, blobs: list[bytes], n: int) -> float:
    store = open_store(target)
    init_event(store, EVENT, "EUR")
    for t, pub in keys:
        enroll(store, t, pub)
    start = time.perf_counter()
    for b in blobs:
        res = ingest_bytes(store, b, source="bench")
        if res.status != "stored":
            raise SystemExit(f"bench batch refused: {res.reason}")
    elapsed = time.perf_counter() - start
    store.close()
    return n / elapsed


def copy_rate(dsn: str, rows: list) -> float:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bulk_entries")
        conn.execute("CREATE TABLE bulk_entries (LIKE entries INCLUDING ALL)")
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bulk_entries ({', '.join(ENTRY_COLUMNS)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        return len(rows) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--terminals", type=int, default=500)
    ap.add_argument("--dsn")
    args = ap.parse_args()
    t0 = time.perf_counter()
    keys, blobs, rows = synth(args.entries, args.terminals)
    n = len(rows)
    gen = time.perf_counter() - t0
    server = contextlib.nullcontext(args.dsn) if args.dsn else temp_postgres()
    with tempfile.TemporaryDirectory() as tmp, server as dsn:
        sqlite_rate = ingest_rate(f"{tmp}/bench.db", keys, blobs, n)
        pg_rate = ingest_rate(dsn, keys, blobs, n)
        bulk = copy_rate(dsn, rows)
    print(json.dumps({"entries": n, "terminals": args.terminals, "batches": len(blobs),
                      "synthesis_s": round(gen, 1), "sqlite_ingest_per_s": round(sqlite_rate),
                      "postgresql_ingest_per_s": round(pg_rate), "postgresql_copy_per_s": round(bulk),
                      "postgresql_ingest_to_copy_ratio": round(pg_rate / bulk, 3), "target_ratio": 0.5}, indent=1))


if __name__ == "__main__":
    main()
