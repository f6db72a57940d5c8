"""Render times of the back office on a large event in PostgreSQL: the dashboard (first render and from its
cache), every report page, and a card page, through the real app in-process (logged in as an admin); then the
same pages narrowed by the filter bar (a vendor, a terminal, a day and hour, the audit log by person), since a
slice is computed per request and not served from the dashboard's cache.

The entries are generated as in bench/reports.py (INSERT ... SELECT inside PostgreSQL). Prints JSON.
  .venv/bin/python bench/backoffice.py [--entries 5000000] [--dsn DSN [--reuse]]
Without --dsn a private PostgreSQL server is started in a temp dir.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import temp_postgres
from reports import EVENT, build_totals, load

from sync.collector.auth import set_user
from sync.collector.storage import Store, open_store
from sync.collector.summary import summary

PASSWORD = "bench password"


def filtered_pages(store: Store, page: Callable[[str], float]) -> dict[str, float]:
    """Each narrowing page once, with values taken from the data (the busiest terminal, its vendor, its first
    hour), so every slice is one that has sales."""
    row = store.query("SELECT t.terminal_id, t.vendor, MIN(e.hour) AS hour FROM entry_totals e JOIN terminals t "
                      "ON t.terminal_id = e.terminal_id GROUP BY t.terminal_id, t.vendor "
                      "ORDER BY SUM(e.n) DESC, t.terminal_id LIMIT 1")[0]
    vendor = urlencode({"vendor": row["vendor"]})
    day, hour, terminal = row["hour"][:10], row["hour"][11:13], row["terminal_id"]
    times: dict[str, float] = {
        "dashboard_vendor_s": page(f"/?{vendor}"),
        "dashboard_terminal_day_hour_s": page(f"/?terminal={terminal}&day={day}&hour={hour}"),
        "report_summary_vendor_s": page(f"/reports/summary?{vendor}"),
        "report_products_vendor_day_s": page(f"/reports/products?{vendor}&day={day}"),
        "report_products_vendor_csv_s": page(f"/reports/products?format=csv&{vendor}"),
        "report_hours_terminal_pdf_s": page(f"/reports/hours?format=pdf&terminal={terminal}"),
        "report_cash_vendor_s": page(f"/reports/cash?{vendor}"),
        "report_anomalies_day_s": page(f"/reports/anomalies?day={day}"),
        "report_sync_vendor_s": page(f"/reports/sync?{vendor}"),
        "terminals_vendor_s": page(f"/terminals?{vendor}"),
        "audit_who_s": page("/audit?who=bench"),
        "card_page_terminal_day_s": page(f"/cards/4242?terminal={terminal}&day={day}"),
    }
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=5_000_000)
    ap.add_argument("--dsn")
    ap.add_argument("--reuse", action="store_true", help="keep the entries already in --dsn (built by a first run)")
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from sync.collector.api import create_app
    from terminal.config import EventKeys

    server = contextlib.nullcontext(args.dsn) if args.dsn else temp_postgres()
    with server as dsn:
        store = open_store(dsn)
        if args.reuse and store.scalar("SELECT COUNT(*) FROM terminals"):
            load_s = 0.0
        else:
            load_s = load(store, args.entries)
            build_totals(store)
        set_user(store, "bench", PASSWORD, role="admin")
        keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
        client = TestClient(create_app(store, keys), follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"csrf": token.group(1), "username": "bench", "password": PASSWORD})
        figures: dict[str, object] = {"entries": int(store.scalar("SELECT COUNT(*) FROM entries")),
                                      "load_s": round(load_s, 1)}
        start = time.perf_counter()
        summary(store, check_cards=False)
        figures["summary_s"] = round(time.perf_counter() - start, 3)

        def page(path: str) -> float:
            start = time.perf_counter()
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            return round(time.perf_counter() - start, 3)

        figures["dashboard_first_s"] = page("/")
        figures["dashboard_cached_s"] = page("/")
        for name in ("summary", "days", "months", "hours", "vendors", "settlement", "terminals", "cashiers", "cash",
                     "anomalies", "sync", "products"):
            figures[f"report_{name}_s"] = page(f"/reports/{name}")
        figures["report_summary_pdf_s"] = page("/reports/summary?format=pdf")
        figures["card_page_s"] = page("/cards/4242")
        figures["terminals_page_s"] = page("/terminals")
        figures["filtered"] = filtered_pages(store, page)
        figures["targets"] = {"summary_s": 0.5, "page_s": 1.0}
        store.close()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
