"""The optional fields a terminal reports about itself in a batch's status (terminal/uplink/device_report.py):
`software` (its version) and `self_test` (passed, when, failed checks). Read defensively: anything not in
the expected shape is dropped, never stored, never an error for the batch."""

from __future__ import annotations

import json
from typing import Any

MAX_TEXT = 60
MAX_FAILED = 20


def _text(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_TEXT and value.isprintable():
        return value
    return None


def software(status: dict) -> str | None:
    return _text(status.get("software"))


def self_test(status: dict) -> str | None:
    """The self-test as compact JSON for the terminals table, or None."""
    found = status.get("self_test")
    if not isinstance(found, dict) or not isinstance(found.get("passed"), bool):
        return None
    failed = found.get("failed", [])
    if not isinstance(failed, list) or len(failed) > MAX_FAILED:
        return None
    names = [n for n in (_text(f) for f in failed) if n is not None]
    return json.dumps({"passed": found["passed"], "at": _text(found.get("at")) or "", "failed": names},
                      sort_keys=True)


def shown(value: str | None) -> dict | None:
    """The stored self-test for a page."""
    if not value:
        return None
    try:
        found = json.loads(value)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
