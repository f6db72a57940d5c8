"""Terminal enrollment: a technician creates a one-time pairing code; the terminal presents it with its
public key; from then on that key alone speaks for the terminal, until the terminal is revoked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from sync.collector.event import now_iso, require_event
from sync.collector.sealing import SealingError, seal, unseal
from sync.collector.storage import Store

ROLES = ("sale", "cashier", "admin")
AUTO = "auto"  # a code's default: the role the terminal is set up for (`[terminal] mode`), sale or cashier
AUTO_ROLES = ("sale", "cashier")  # an admin terminal needs a code made for it
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class EnrollmentError(Exception):
    status = 403  # HTTP: a bad, used or expired code, a foreign event...


class EventOver(EnrollmentError):
    """The event's last day and grace are past: no terminal joins it any more."""

    status = 409  # a state of the event, not a fault of the request


def refuse_after_event(store: Store) -> None:
    """EventOver once the event's window has closed (`sync.collector.event_window`); nothing when no end is set."""
    from sync.collector.event_window import stored_window

    window = stored_window(store)
    if window is not None and window.is_over(datetime.now(UTC)):
        raise EventOver(f"the event ended on {window.ends} (grace {window.grace_h:g} h has passed): "
                        "no terminal can be paired with it any more")


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def new_pairing_code(store: Store, *, role: str = AUTO, vendor: str = "", valid_hours: float = 24) -> str:
    """A one-time code. Role `auto` (the default) gives the terminal the role it is set up for, so a cashier point
    paired with a default code may credit face accounts; a code with a role pins it whatever the terminal asks."""
    if role not in (*ROLES, AUTO):
        raise EnrollmentError(f"role must be one of {', '.join((*ROLES, AUTO))}")
    refuse_after_event(store)
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    code = "-".join(raw[i:i + 4] for i in range(0, 12, 4))
    expires = (datetime.now(UTC) + timedelta(hours=valid_hours)).isoformat()
    from sync.format.pairing import code_key

    store.execute("INSERT INTO pairing_codes (code_hash, role, vendor, created_at, expires_at, code_key) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  [_code_hash(code), role, vendor, now_iso(), expires,
                   seal(store, "pairing code key", code_key(code, require_event(store)))])
    return code


def _open_code_key(store: Store, stored: str) -> bytes | None:
    """A code key as kept in the database: sealed under the collector's key file (never plaintext)."""
    try:
        return unseal(store, "pairing code key", stored)
    except (SealingError, ValueError):
        return None


def code_for_request(store: Store, req: dict) -> tuple[str, bytes]:
    """(code hash, code key) of the open code whose key verifies the pairing request's HMAC.

    Open = not expired, and unused or used by this very terminal (a retry after a lost answer)."""
    from sync.format.pairing import mac_matches

    now = datetime.now(UTC)
    for row in store.query("SELECT code_hash, code_key, expires_at, used_by FROM pairing_codes "
                           "WHERE code_key IS NOT NULL AND (used_by IS NULL OR used_by = ?)", [req["terminal_id"]]):
        key = _open_code_key(store, row["code_key"])
        if key is not None and mac_matches(key, req):
            if datetime.fromisoformat(row["expires_at"]) < now:
                raise EnrollmentError("pairing code has expired")
            return row["code_hash"], key
    raise EnrollmentError("no open pairing code matches this request (wrong, used or expired code)")


def pair(store: Store, *, code: str, event_id: str, terminal_id: int, public_key: str, name: str = "",
         code_hash: str | None = None, mode: str = "sale", face_key: str = "") -> dict:
    """Enroll a terminal with a pairing code (or its hash, once a request MAC proved the code); returns the terminal
    record. Re-pairing the same key is a no-op."""
    own_event = require_event(store)
    if event_id != own_event:
        raise EnrollmentError(f"terminal is set up for event {event_id!r}; this collector runs {own_event!r}")
    if not isinstance(public_key, str) or not re.fullmatch(r"[0-9a-f]{64}", public_key):
        raise EnrollmentError("public key must be 64 hex digits (Ed25519)")
    if not isinstance(terminal_id, int) or not 1 <= terminal_id <= 65535:
        raise EnrollmentError("terminal id must be 1..65535")
    if not isinstance(code, str):
        raise EnrollmentError("pairing code must be text")
    if not isinstance(name, str) or len(name) > 100 or not name.isprintable():  # no NUL, no control characters
        raise EnrollmentError("terminal name must be printable text of at most 100 characters")
    with store.transaction():
        existing = get_terminal(store, terminal_id)
        if existing and existing["public_key"] == public_key and existing["status"] == "active":
            return existing
        refuse_after_event(store)
        rows = store.query("SELECT * FROM pairing_codes WHERE code_hash = ?", [code_hash or _code_hash(code)])
        if not rows:
            raise EnrollmentError("unknown pairing code")
        row = rows[0]
        if row["used_by"] is not None:
            raise EnrollmentError("pairing code was already used")
        if datetime.fromisoformat(row["expires_at"]) < datetime.now(UTC):
            raise EnrollmentError("pairing code has expired")
        if existing and existing["status"] == "revoked":
            raise EnrollmentError(f"terminal {terminal_id} is revoked; use a new terminal id")
        if existing:
            raise EnrollmentError(f"terminal {terminal_id} is already enrolled with another key")
        store.execute("UPDATE pairing_codes SET used_by = ? WHERE code_hash = ?", [terminal_id, row["code_hash"]])
        store.execute("INSERT INTO terminals (terminal_id, public_key, role, vendor, name, status, enrolled_at, "
                      "face_key) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
                      [terminal_id, public_key, _role(row["role"], mode), row["vendor"], name, now_iso(),
                       _face_key(face_key)])
    return get_terminal(store, terminal_id) or {}


def _role(code_role: str, mode: object) -> str:
    if code_role != AUTO:
        return code_role
    return mode if isinstance(mode, str) and mode in AUTO_ROLES else "sale"


def _face_key(face_key: object) -> str | None:
    if not face_key:
        return None
    if not isinstance(face_key, str) or not re.fullmatch(r"[0-9a-f]{64}", face_key):
        raise EnrollmentError("face key must be 64 hex digits (X25519)")
    return face_key


def enroll(store: Store, terminal_id: int, public_key: str, *, role: str = "sale", vendor: str = "",
           name: str = "", face_key: str = "") -> None:
    """Direct enrollment by the organizer (no code), e.g. from a technician's list."""
    require_event(store)
    store.execute("INSERT INTO terminals (terminal_id, public_key, role, vendor, name, status, enrolled_at, face_key) "
                  "VALUES (?, ?, ?, ?, ?, 'active', ?, ?) ON CONFLICT (terminal_id) DO NOTHING",
                  [terminal_id, public_key, role, vendor, name, now_iso(), _face_key(face_key)])
    current = get_terminal(store, terminal_id)
    if current is None or current["public_key"] != public_key:
        raise EnrollmentError(f"terminal {terminal_id} is already enrolled with another key")


def revoke(store: Store, terminal_id: int) -> None:
    if store.execute("UPDATE terminals SET status = 'revoked', revoked_at = ? WHERE terminal_id = ?",
                     [now_iso(), terminal_id]) == 0:
        raise EnrollmentError(f"terminal {terminal_id} is not enrolled")


def get_terminal(store: Store, terminal_id: int) -> dict | None:
    rows = store.query("SELECT * FROM terminals WHERE terminal_id = ?", [terminal_id])
    return rows[0] if rows else None
