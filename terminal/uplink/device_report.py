"""What a terminal tells the collector about itself in every upload: its software version and the result of
its last self-test (`stallpay selftest` records it in the data directory). Optional fields of the batch
status; the collector shows them on its terminals page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from terminal import __version__

SELFTEST_FILE = "selftest.json"


def record_selftest(data_dir: Path, result: dict[str, Any]) -> None:
    """Keep the outcome of a self-test (`terminal.selftest.as_dict`): passed, when, and which checks failed."""
    failed = [str(c.get("name")) for c in result.get("checks", []) if c.get("result") == "fail"]
    summary = {"passed": bool(result.get("passed")), "failed": failed,
               "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SELFTEST_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary), encoding="utf-8")
    tmp.chmod(0o640)
    tmp.replace(path)


def upload_fields(data_dir: Path) -> dict[str, Any]:
    """`software` always; `self_test` once a self-test has run (an unreadable record is left out)."""
    fields: dict[str, Any] = {"software": f"stallpay {__version__}"}
    try:
        found = json.loads((data_dir / SELFTEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return fields
    if isinstance(found, dict):
        fields["self_test"] = found
    return fields
