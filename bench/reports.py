"""Time of the event summary and the per-vendor report on five million journal entries in PostgreSQL.

The entries are generated inside PostgreSQL (INSERT ... SELECT over generate_series, faster than any
client-side COPY): a benchmark of the reports, not of the ingest. Half are intents and half commits, as the
wallet writes them; sales, voids, top-ups and checkouts over 100,000 cards and 500 terminals of 50 vendors.
Prints JSON.
  .venv/bin/python bench/reports.py [--entries 5000000] [--dsn DSN]
Without --dsn a private PostgreSQL server is started in a temp dir (see bench/ingest.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import temp_postgres

from sync.collector.entry_totals import rebuild_totals
from sync.collector.event import init_event
from sync.collector.reports import by_vendor
from sync.collector.storage import Store, open_store
from sync.collector.summary import summary

EVENT = "bench-reports"
TERMINALS = 500
CARDS = 100_000

# k = the operation number on a terminal (two entries each: intent then commit)
GENERATE = """
INSERT INTO entries (terminal_id, seq, hash, prev_hash, time, clock_synced, operator, op, phase, ref, card_id, uid,
                     card_seq, amount, balance_before, balance_after, currency, method, items, data)
SELECT t, s, md5(t || ':' || s), md5(t || ':' || (s - 1)),
       '2025-07-0' || (1 + k % 3) || 'T' || lpad(((k / 7) % 24)::text, 2, '0') || ':00:00.000Z', 1, 'op' || (t % 7),
       op, CASE WHEN s % 2 = 1 THEN 'intent' ELSE 'commit' END, CASE WHEN s % 2 = 0 THEN s - 1 END,
       card, '04a1b2c3d4e5f6', k, amount, 100000, 100000 - amount, 'EUR',
       CASE WHEN op = 'topup' THEN (ARRAY['cash', 'card', 'comp'])[1 + k % 3] END,
       CASE WHEN op IN ('sale', 'void') THEN '[{"name":"p' || (k % 40) || '","qty":1,"unit_price":' || amount || '}]'
            ELSE '[]' END,
       CASE WHEN op = 'close' THEN '{"refund":' || amount || ',"forfeited_comp":0}' ELSE '{}' END
FROM (
  SELECT t, s, (s + 1) / 2 AS k, ((t * 7919 + (s + 1) / 2 * 104729) % %(cards)s) + 1 AS card,
         100 + ((s + 1) / 2 * 37) % 900 AS amount,
         CASE WHEN (s + 1) / 2 % 20 = 0 THEN 'topup' WHEN (s + 1) / 2 % 50 = 1 THEN 'void'
              WHEN (s + 1) / 2 % 997 = 3 THEN 'close' ELSE 'sale' END AS op
  FROM generate_series(%(first)s, %(last)s) AS t, generate_series(1, %(per)s) AS s
) g
"""


ISSUES = """
INSERT INTO entries (terminal_id, seq, hash, prev_hash, time, clock_synced, operator, op, phase, ref, card_id, uid,
                     card_seq, amount, balance_before, balance_after, currency, method, items, data)
SELECT 1, s, md5('i' || s), md5('i' || (s - 1)), '2025-07-01T08:00:00.000Z', 1, 'cashier', 'issue',
       CASE WHEN s % 2 = 1 THEN 'intent' ELSE 'commit' END, CASE WHEN s % 2 = 0 THEN s - 1 END,
       (s + 1) / 2, '04a1b2c3d4e5f6', 1, 100000, 0, 100000, 'EUR', 'cash', '[]', '{}'
FROM generate_series(1, %(n)s) AS s
"""


def load(store: Store, entries: int) -> float:
    init_event(store, EVENT, "EUR")
    start = time.perf_counter()
    store.executemany("INSERT INTO terminals (terminal_id, public_key, role, vendor, name, status, enrolled_at) "
                      "VALUES (?, ?, 'sale', ?, ?, 'active', '2025-07-01T00:00:00Z')",
                      [(t, f"{t:064x}", f"vendor-{t % 50:02d}", f"t{t}") for t in range(1, TERMINALS + 1)])
    store.execute(ISSUES.replace("%(n)s", str(2 * CARDS)))  # terminal 1 issued every card first
    per = (entries - 2 * CARDS) // (TERMINALS - 1)
    for first in range(2, TERMINALS + 1, 50):  # in slices, with a progress line
        sql = GENERATE.replace("%(cards)s", str(CARDS)).replace("%(per)s", str(per))
        store.execute(sql.replace("%(first)s", str(first)).replace("%(last)s", str(min(first + 49, TERMINALS))))
        print(f"generated terminals {first}..{min(first + 49, TERMINALS)}", file=sys.stderr)
    store.execute("ANALYZE")
    return time.perf_counter() - start


def build_totals(store: Store) -> float:
    """The running totals ingest keeps (`entry_totals`), built here in one pass since the rows bypassed ingest."""
    start = time.perf_counter()
    rebuild_totals(store)
    store.execute("ANALYZE entry_totals")
    return time.perf_counter() - start


def timed(fn, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=5_000_000)
    ap.add_argument("--dsn")
    args = ap.parse_args()
    server = contextlib.nullcontext(args.dsn) if args.dsn else temp_postgres()
    with server as dsn:
        store = open_store(dsn)
        load_s = load(store, args.entries)
        totals_s = build_totals(store)
        figures: dict[str, object] = {"entries": int(store.scalar("SELECT COUNT(*) FROM entries")),
                                      "terminals": TERMINALS, "cards": CARDS, "load_s": round(load_s, 1),
                                      "totals_build_s": round(totals_s, 1)}
        for name, fn in (("summary", summary), ("vendors", by_vendor)):
            runs = [timed(fn, store) for _ in range(3)]
            figures[f"{name}_first_s"] = round(runs[0][0], 3)
            figures[f"{name}_best_s"] = round(min(t for t, _ in runs), 3)
        checked_s, s = timed(lambda st: summary(st, check_cards=True), store)
        figures["summary_with_per_card_check_s"] = round(checked_s, 3)  # every card's ledger balance summed too
        figures["books_balance"] = s["books_balance"]
        figures["cards_by_status"] = s["cards_by_status"]
        figures["target_s"] = 2.0
        store.close()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
