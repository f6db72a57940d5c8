"""The reliability campaign (issue 15): tearing, process kills, collector crashes, power cuts, fuzzing and load,
each part ending with the collector's books. Prints one JSON document; exit code 1 when anything failed.

  .venv/bin/python bench/campaign.py            quick mode (CI: tests/test_campaign.py runs it)
  .venv/bin/python bench/campaign.py --full     the issue's counts (hours; override any count with its flag)
  .venv/bin/python bench/campaign.py --only tearing,fuzz --tears 500
  .venv/bin/python bench/campaign.py --full --only fuzz --fuzz-workers 2 --fuzz-targets purse,batch
  .venv/bin/python bench/campaign.py --only soak --soak-seconds 600       a 10-minute soak (quick mode: 20 s)
  .venv/bin/python bench/campaign.py --only soak --soak-seconds 3600 --trace-memory   where the kiosk's heap grows
  .venv/bin/python bench/campaign.py --only collector_crashes --collector-kills 20 --postgres
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUICK = {"tears": 300, "pcsc_tears": 0, "card_kills": 6, "serve_kills": 1, "collector_kills": 2,
         "power_cuts": 20, "fuzz_execs": 2000, "load_terminals": 10, "load_backlog": 200, "load_seconds": 3.0,
         "fault_entries": 10, "fault_cells": "drop_response,duplicate_request,collector_restart", "soak_seconds": 20.0,
         "postgres": False}
FULL = {"tears": 10_000, "pcsc_tears": 500, "card_kills": 1000, "serve_kills": 1000, "collector_kills": 200,
        "power_cuts": 1000, "fuzz_execs": 10_000_000, "load_terminals": 50, "load_backlog": 500,
        "load_seconds": 120.0, "fault_entries": 200, "fault_cells": "all", "soak_seconds": 7200.0,
        "postgres": True}
PARTS = ("tearing", "pcsc_tearing", "card_kills", "serve_kills", "collector_crashes", "power_cuts", "faults", "fuzz",
         "load", "soak")


def _part(name: str, counts: dict[str, Any], dsn: str | None) -> dict[str, Any]:
    if name == "tearing":
        from bench.reliability import tearing

        return tearing.run(counts["tears"])
    if name == "pcsc_tearing":
        from bench.reliability import tearing

        if not counts["pcsc_tears"]:  # quick mode: tests/wallet/test_pcsc_wallet.py tears through pcscd already
            return {"tears": 0, "failures": 0}
        return tearing.run_pcsc(counts["pcsc_tears"])
    if name == "card_kills":
        from bench.reliability import kills

        return kills.run(counts["card_kills"])
    if name == "serve_kills":
        from bench.reliability import serve_kills

        return serve_kills.run(counts["serve_kills"])
    if name == "collector_crashes":
        from bench.reliability import collector_crashes

        return collector_crashes.run(counts["collector_kills"], dsn)
    if name == "power_cuts":
        from bench.reliability import power

        return power.run(counts["power_cuts"])
    if name == "faults":
        from bench.reliability import faults

        cells = faults.CELLS if counts["fault_cells"] == "all" else tuple(counts["fault_cells"].split(","))
        return faults.run(counts["fault_entries"], cells=cells)
    if name == "fuzz":
        from tests.fuzz.fuzzer import fuzz_all
        from tests.fuzz.targets import TARGETS

        names = counts["fuzz_targets"].split(",") if counts.get("fuzz_targets") else sorted(TARGETS)
        if set(names) - set(TARGETS):
            raise SystemExit(f"unknown fuzz target(s): {', '.join(sorted(set(names) - set(TARGETS)))}")
        return fuzz_all(names, counts["fuzz_execs"], workers=counts.get("fuzz_workers") or 1,
                        seconds=counts.get("fuzz_seconds"))
    if name == "soak":
        from bench.reliability import soak

        if not counts["soak_seconds"]:  # --soak-seconds 0: skipped
            return {"seconds": 0, "failures": 0}
        return soak.run(counts["soak_seconds"], trace_memory=bool(counts.get("trace_memory")))
    from bench.reliability import load

    return load.run(counts["load_terminals"], counts["load_backlog"], counts["load_seconds"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the issue's counts instead of the quick mode's")
    ap.add_argument("--only", help=f"comma-separated parts: {', '.join(PARTS)}")
    for key in QUICK:
        if key != "postgres":
            ap.add_argument(f"--{key.replace('_', '-')}", type=type(QUICK[key]), help=f"quick {QUICK[key]}, "
                                                                                      f"full {FULL[key]}")
    ap.add_argument("--fuzz-seconds", type=float, help="stop each fuzz target after this many seconds")
    ap.add_argument("--fuzz-workers", type=int, help="processes per fuzz target (executions split between them)")
    ap.add_argument("--fuzz-targets", help="comma-separated fuzz targets (default: all)")
    ap.add_argument("--postgres", action=argparse.BooleanOptionalAction, help="collector crashes on PostgreSQL too")
    ap.add_argument("--trace-memory", action="store_true", help="soak: trace the kiosk's Python allocations "
                    "(tracemalloc) and report where its heap grew after the warm-up")
    args = ap.parse_args()
    counts: dict[str, Any] = dict(FULL if args.full else QUICK)
    for key in (*QUICK, "fuzz_seconds", "fuzz_workers", "fuzz_targets", "trace_memory"):
        if getattr(args, key, None) is not None:
            counts[key] = getattr(args, key)
    parts = [p.strip() for p in args.only.split(",")] if args.only else list(PARTS)
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown part(s) {', '.join(sorted(unknown))}")
    started = time.monotonic()
    report: dict[str, Any] = {"mode": "full" if args.full else "quick", "counts": counts}
    with contextlib.ExitStack() as stack:
        dsn = None
        if counts["postgres"] and "collector_crashes" in parts:
            from bench.ingest import temp_postgres

            dsn = stack.enter_context(temp_postgres())
        for name in parts:
            report[name] = _part(name, counts, dsn)
            print(f"campaign: {name} done ({report[name].get('failures')} failures)", file=sys.stderr, flush=True)
    report["failures"] = sum(int(report[p]["failures"]) for p in parts)
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=1))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
