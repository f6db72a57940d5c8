"""CPU seconds of the collector's ingest vs the plain bulk load, on a shared machine where wall-clock ratios are noise.

`bench/ingest.py` times wall clock; with other jobs on the machine, its ratio moves by ±50 % between back-to-back
runs. This counts CPU instead: the client process plus, on PostgreSQL, the server backend doing the work (read from
/proc), for `ingest_many(workers=0)` (everything in one process: the work the pipeline spreads over its workers) and
for the same bulk loads as `bench/ingest.py`. Prints JSON.
  .venv/bin/python bench/ingest_cpu.py [--entries 200000] [--terminals 500] [--repeat 2]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import EVENT, bulk_table, fresh_database, synth, temp_postgres

from sync.collector.enrollment import enroll
from sync.collector.event import init_event
from sync.collector.ingest import ingest_many
from sync.collector.prepared import ENTRY_COLUMNS
from sync.collector.storage import Store, encode_copy_text, open_store


def _cpu(store: Store) -> float:
    """This process's CPU seconds, plus those of the PostgreSQL backend serving `store`."""
    spent = time.process_time()
    if store.dialect == "postgresql":
        pid = store.scalar("SELECT pg_backend_pid()")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        spent += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return spent


def ingest_cpu(target: str, keys: list, blobs: list[bytes]) -> float:
    store = open_store(target)
    init_event(store, EVENT, "EUR")
    for t, pub in keys:
        enroll(store, t, pub)
    start = _cpu(store)
    ingest_many(store, [("bench", b) for b in blobs], workers=0)
    spent = _cpu(store) - start
    store.close()
    return spent


def bulk_cpu(target: str, rows: list, text: list[bytes] | None) -> float:
    store = bulk_table(target)
    start = _cpu(store)
    with store.transaction():
        if text is not None:
            store.load_copy_text("bulk_entries", ENTRY_COLUMNS, text)
        else:
            store.copy_rows("bulk_entries", ENTRY_COLUMNS, rows)
    spent = _cpu(store) - start
    store.execute("DROP TABLE bulk_entries")
    store.close()
    return spent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--terminals", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=2, help="runs; the least CPU of each is reported")
    args = ap.parse_args()
    keys, blobs, rows = synth(args.entries, args.terminals)
    text = [encode_copy_text(list(zip(*rows[i:i + 20_000], strict=True))) for i in range(0, len(rows), 20_000)]
    gc.freeze()
    best = {"sqlite_ingest": 1e9, "sqlite_bulk": 1e9, "postgresql_ingest": 1e9, "postgresql_copy": 1e9}
    with tempfile.TemporaryDirectory() as tmp, temp_postgres() as dsn:
        for i in range(args.repeat):
            path = f"{tmp}/cpu{i}.db"
            best["sqlite_ingest"] = min(best["sqlite_ingest"], ingest_cpu(path, keys, blobs))
            best["sqlite_bulk"] = min(best["sqlite_bulk"], bulk_cpu(path, rows, None))
            target = fresh_database(dsn, f"bench_cpu_{i}")
            best["postgresql_ingest"] = min(best["postgresql_ingest"], ingest_cpu(target, keys, blobs))
            best["postgresql_copy"] = min(best["postgresql_copy"], bulk_cpu(target, rows, text))
    print(json.dumps({"entries": len(rows), "batches": len(blobs), **{f"{k}_cpu_s": round(v, 2) for k, v in
                                                                      best.items()},
                      "sqlite_bulk_to_ingest_cpu": round(best["sqlite_bulk"] / best["sqlite_ingest"], 3),
                      "postgresql_copy_to_ingest_cpu": round(best["postgresql_copy"] / best["postgresql_ingest"], 3)},
                     indent=1))


if __name__ == "__main__":
    main()
