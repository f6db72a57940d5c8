"""Operators managed centrally: the organizer adds, disables and re-enables them and sets their PINs at the
collector; bundles carry them (with the agreed PIN hash, sync.format.pin_hash) and terminals apply the list.

A disabled operator stays in the bundle without a hash, so every terminal removes that id at its next sync,
even where it was added locally.
"""

from __future__ import annotations

import re

from sync.collector.event import now_iso
from sync.collector.storage import Store
from sync.format.pin_hash import PinError, hash_pin

ROLES = ("vendor", "cashier", "supervisor")  # the terminal's roles (terminal/app/permissions.py)
STATUSES = ("active", "disabled")
OPERATOR_ID = re.compile(r"[A-Za-z0-9]{1,16}")


class OperatorError(Exception):
    """Refused operator data, phrased for the back office."""


def list_operators(store: Store) -> list[dict]:
    return store.query("SELECT operator_id, name, role, vendor, status, changed_at FROM operators "
                       "ORDER BY operator_id")


def get_operator(store: Store, operator_id: str) -> dict | None:
    rows = store.query("SELECT operator_id, name, role, vendor, status, changed_at FROM operators "
                       "WHERE operator_id = ?", [operator_id])
    return rows[0] if rows else None


def add_operator(store: Store, operator_id: str, name: str, role: str, vendor: str, pin: str) -> dict:
    if not OPERATOR_ID.fullmatch(operator_id):
        raise OperatorError("an operator id is 1 to 16 letters or digits")
    if role not in ROLES:
        raise OperatorError(f"role must be one of {', '.join(ROLES)}")
    name = " ".join(name.split())[:100] or operator_id
    vendor = " ".join(vendor.split())[:100]
    try:
        digest = hash_pin(pin)
    except PinError as exc:
        raise OperatorError(str(exc)) from None
    if get_operator(store, operator_id) is not None:
        raise OperatorError(f"operator {operator_id} exists")
    store.execute("INSERT INTO operators (operator_id, name, role, vendor, pin_hash, status, changed_at) "
                  "VALUES (?, ?, ?, ?, ?, 'active', ?) ON CONFLICT DO NOTHING",
                  [operator_id, name, role, vendor, digest, now_iso()])
    found = get_operator(store, operator_id)
    assert found is not None
    return found


def set_status(store: Store, operator_id: str, status: str) -> None:
    if status not in STATUSES:
        raise OperatorError(f"status must be one of {', '.join(STATUSES)}")
    if store.execute("UPDATE operators SET status = ?, changed_at = ? WHERE operator_id = ?",
                     [status, now_iso(), operator_id]) == 0:
        raise OperatorError(f"no operator {operator_id}")


def set_pin(store: Store, operator_id: str, pin: str) -> None:
    try:
        digest = hash_pin(pin)
    except PinError as exc:
        raise OperatorError(str(exc)) from None
    if store.execute("UPDATE operators SET pin_hash = ?, changed_at = ? WHERE operator_id = ?",
                     [digest, now_iso(), operator_id]) == 0:
        raise OperatorError(f"no operator {operator_id}")


def for_bundle(store: Store) -> list[dict]:
    """Every operator as bundles carry it: a disabled one without its PIN hash."""
    return store.query("SELECT operator_id, name, role, vendor, status, CASE WHEN status = 'active' "
                       "THEN pin_hash ELSE '' END AS pin_hash FROM operators ORDER BY operator_id")
