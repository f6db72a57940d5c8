"""Render times of the back office on a large event in PostgreSQL: the dashboard (first render and from its
cache), every report page, and a card page, through the real app in-process (logged in as an admin).

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import temp_postgres
from reports import EVENT, build_totals, load

from sync.collector.auth import set_user
from sync.collector.storage import open_store
from sync.collector.summary import summary

PASSWORD = "bench password"


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
        figures["targets"] = {"summary_s": 0.5, "page_s": 1.0}
        store.close()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
