"""The operators a bundle carries, applied to the terminal's operator file (terminal/operators.py).

The collector sends every operator it manages (sync.collector.central_operators): an active one for this terminal's
vendor (or for every vendor: empty vendor) is installed with its PIN hash, in the agreed form only
(sync.format.pin_hash); a disabled one is removed by id wherever it came from. Verification stays offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sync.format.pin_hash import is_agreed
from terminal.operators import OperatorStore, Role

OPERATOR_ID = re.compile(r"[A-Za-z0-9]{1,16}")
ROLES = frozenset(r.value for r in Role)


def split(operators: list[Any], vendor: str) -> tuple[list[tuple[str, str, str, str]], set[str], int]:
    """(operators to install, ids to remove, rows skipped as malformed)."""
    active: list[tuple[str, str, str, str]] = []
    removed: set[str] = set()
    skipped = 0
    for row in operators:
        op_id = row.get("operator_id") if isinstance(row, dict) else None
        if not isinstance(op_id, str) or not OPERATOR_ID.fullmatch(op_id):
            skipped += 1
            continue
        if row.get("status", "active") != "active":
            removed.add(op_id)
        elif row.get("vendor", "") not in ("", vendor):
            continue  # another vendor's staff
        elif row.get("role") in ROLES and is_agreed(row.get("pin_hash")):
            active.append((op_id, str(row.get("name") or op_id)[:100], str(row["role"]), str(row["pin_hash"])))
        else:
            removed.add(op_id)  # cannot be verified here: this id logs in nowhere rather than with an old PIN
            skipped += 1
    return active, removed, skipped


def apply_operators(data_dir: Path, vendor: str, operators: Any) -> dict[str, int]:
    """Install the bundle's operator list; a bundle without one leaves the operators alone (empty answer)."""
    if not isinstance(operators, list):
        return {}
    active, removed, skipped = split(operators, vendor)
    store = OperatorStore(data_dir / "operators.db")
    try:
        return {**store.apply_central(active, removed), "operators_skipped": skipped}
    finally:
        store.db.conn.close()
