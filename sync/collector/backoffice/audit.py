"""The audit log: every change made in the back office or the portal, with who and when."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sync.collector.event import now_iso
from sync.collector.storage import Store


def record(store: Store, username: str, action: str, target: str, **detail: Any) -> None:
    """In the home database (with the event it concerns) when `store` is a back-office `CurrentStore`."""
    office = getattr(store, "office_store", None)
    if office is not None:
        detail.setdefault("event", store.event_id())  # type: ignore[attr-defined]
        store = office
    store.execute("INSERT INTO audit_log (audit_id, at, username, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
                  [secrets.token_hex(12), now_iso(), username, action, target,
                   json.dumps(detail, sort_keys=True, default=str)])


def entries(store: Store, *, target: str | None = None, limit: int = 500, day: str = "",
            who: str = "") -> list[dict]:
    """From the home database when `store` is a `CurrentStore`: with a target, only that event's changes;
    `day` (YYYY-MM-DD) and `who` (a username) narrow the log as the filter bar chose."""
    event = None
    office = getattr(store, "office_store", None)
    if office is not None:
        event = store.event_id()  # type: ignore[attr-defined]
        store = office
    sql = "SELECT at, username, action, target, detail FROM audit_log"
    params: list[Any] = []
    conditions = []
    if target is not None:
        conditions.append("target = ?")
        params.append(target)
    if day:
        conditions.append("substr(at, 1, 10) = ?")
        params.append(day)
    if who:
        conditions.append("username = ?")
        params.append(who)
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    rows = store.query(sql + " ORDER BY at DESC, audit_id LIMIT ?", [*params, limit])
    for r in rows:
        r["detail"] = json.loads(r["detail"] or "{}")
    if event is not None and target is not None:
        rows = [r for r in rows if r["detail"].get("event") in (event, None)]
    return rows
