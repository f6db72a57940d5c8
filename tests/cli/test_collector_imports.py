"""`stallpay collector ...` and `stallpay-collector ...` load nothing of the terminal's card, camera or store stack.

Each probe runs in a fresh interpreter in which importing pyscard (`smartcard`), OpenCV
(`cv2`) or mediapipe fails, as on a collector installed with `.[collector]` only; it runs the
real commands and then lists what was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("smartcard", "cv2", "mediapipe")
# the terminal's own layers: the collector never needs them (terminal.cli and its exit codes are the alias's door)
TERMINAL_STACK = ("terminal.nfc", "terminal.wallet", "terminal.camera", "terminal.printer", "terminal.ui",
                  "terminal.app", "terminal.uplink", "terminal.schema", "terminal.config")

PROBE = """
import importlib.abc, json, sys
HEAVY = {heavy!r}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError(f"{{name}} is not installed on a collector")
        return None

sys.meta_path.insert(0, Refuse())
{entry}
import contextlib, io
codes, out = [], io.StringIO()
for argv in {commands!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        codes.append(main(argv))
from sync.collector.api import create_app  # what `serve` runs (uvicorn aside)
print(json.dumps({{"codes": codes, "modules": sorted(sys.modules), "stdout_tail": out.getvalue()}}))
"""


def probe(tmp_path: Path, entry: str, commands: list[list[str]]) -> dict:
    code = PROBE.format(heavy=HEAVY, entry=entry, commands=commands)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def usb_with_a_batch(tmp_path: Path) -> tuple[Path, str]:
    """A USB folder holding one signed batch (a 20.00 issue on card 1) written by the terminal's own code."""
    from sync.format.keys import public_hex
    from terminal.uplink.export import export_to_dir
    from tests.sync.journals import Cards, make_terminal

    term = make_terminal(tmp_path, 1, Cards(), event_id="probe")
    term.book("issue", 1, 2000, method="cash")
    usb = tmp_path / "usb"
    assert len(export_to_dir(term.journal, term.key, usb)) == 1
    return usb, public_hex(term.key)


@pytest.mark.parametrize(("entry", "prefix"), [
    ("from terminal.cli import main", ["collector"]),  # the alias
    ("from sync.collector.cli import main", []),  # the console script stallpay-collector
])
def test_collector_commands_need_no_terminal_stack(tmp_path: Path, entry: str, prefix: list[str]) -> None:
    db = str(tmp_path / "books.db")
    usb, public_key = usb_with_a_batch(tmp_path)
    result = probe(tmp_path, entry, [
        [*prefix, "init", "--db", db, "--event-id", "probe"],
        [*prefix, "enroll", "--db", db, "--terminal", "1", "--public-key", public_key, "--role", "cashier"],
        [*prefix, "ingest", "--db", db, "--quiet", str(usb)],
        [*prefix, "report", "summary", "--db", db, "--json"],
    ])
    assert result["codes"] == [0, 0, 0, 0]
    modules = set(result["modules"])
    assert "sync.collector.reports" in modules and "sync.collector.api" in modules  # the commands did run
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY
                    or any(m == t or m.startswith(t + ".") for t in TERMINAL_STACK))
    assert loaded == []
    summary = json.loads(result["stdout_tail"])
    assert summary["deposited"] == 2000 and summary["outstanding"] == 2000 and summary["books_balance"] is True


def test_the_probe_would_see_a_terminal_import(tmp_path: Path) -> None:
    result = probe(tmp_path, "from terminal.cli import main\nimport terminal.config", [])
    assert "terminal.config" in result["modules"]
