"""The reliability campaign's quick mode (issue 15) as CI runs it: every part runs and nothing fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(660)  # the subprocess's own limit decides; a shared CI machine takes longer than a quiet one
def test_quick_campaign() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "campaign.py")], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["mode"] == "quick"
    assert report["tearing"]["tears"] == 300 and report["tearing"]["books_checks"] >= 1
    assert set(report["tearing"]["per_chip"]) >= {"NTAG213", "NTAG215", "NTAG216", "MF0UL21"}
    assert report["card_kills"]["runs"] == 6 and report["card_kills"]["books_balance"] is True
    assert report["serve_kills"]["kills"] == 1 and report["serve_kills"]["books_balance"] is True
    assert report["collector_crashes"]["sqlite"]["orphans"] == 0
    assert report["collector_crashes"]["sqlite"]["kills"] == 2  # killed mid-ingest, not finished before the kill
    assert report["power_cuts"]["cuts"] == 20 and report["power_cuts"]["writes_per_run"] > 0
    assert report["fuzz"]["executions"] == 5 * 2000
    assert set(report["faults"]["cells"]) == {"drop_response", "duplicate_request", "collector_restart"}
    assert all(c["exactly_once"] and c["books_balance"] for c in report["faults"]["cells"].values())
    assert report["load"]["exactly_once"] is True and report["load"]["books_balance"] is True
    soak = report["soak"]  # 20 s: the till keeps bands and the face account funded, every sale is approved
    assert soak["sales"]["total"] >= 10 and soak["sales"]["face"] >= 1, soak
    assert soak["sales"]["declined"] == {} and soak["topups"]["declined"] == {} and soak["topups"]["card"] >= 1, soak
    assert soak["journal_equals_band"] is True and soak["kiosk_exit"] is None  # the kiosk ran to the end
    assert soak["environment"]["MALLOC_ARENA_MAX"] == "2"  # the kiosk ran as the terminal's systemd unit runs it
    assert report["failures"] == 0, json.dumps(report, indent=1)
    assert proc.returncode == 0, proc.stderr[-2000:]
