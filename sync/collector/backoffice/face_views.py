"""What the face-accounts pages show: accounts with balances and open holds, erasures each terminal still owes,
and the consent records terminals journaled (which words a guest agreed to, by which operator, when)."""

from __future__ import annotations

import json
from typing import Any

from sync.collector.face import open_holds, pending_erasures
from sync.collector.reports import face_accounts
from sync.collector.storage import Store

MAX_CONSENTS = 500


def accounts(store: Store) -> list[dict]:
    holds = open_holds(store)
    return [{**a, "held": holds.get(a["account_id"], 0)} for a in face_accounts(store)]


def consents(store: Store, account_id: str | None = None) -> list[dict]:
    """Consent records from the journals (`face_consent` info entries), newest first."""
    out: list[dict[str, Any]] = []
    for r in store.query("SELECT terminal_id, seq, time, operator, data FROM entries WHERE phase = 'info' "
                         "AND op = 'face' ORDER BY time DESC, terminal_id, seq"):
        try:
            data = json.loads(r["data"] or "{}")
        except ValueError:
            continue
        if not isinstance(data, dict) or data.get("event") != "face_consent":
            continue
        if account_id is not None and data.get("account_id") != account_id:
            continue
        text = str(data.get("text") or "")
        out.append({"time": r["time"], "terminal_id": r["terminal_id"], "account_id": str(data.get("account_id")),
                    "record": text, "declined": text.endswith("/declined"),
                    "operator": str(data.get("operator") or r["operator"] or "")})
        if len(out) >= MAX_CONSENTS:
            break
    return out


def erasures(store: Store) -> list[dict]:
    return pending_erasures(store)
