"""Who may talk to the collector: terminals sign each request with their enrolled Ed25519 key;
organizers log in with a password (scrypt-hashed). Nothing else gets data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sync.collector.event import now_iso
from sync.collector.storage import Store
from sync.format.keys import verify
from sync.format.request_signing import request_message

REQUEST_WINDOW_S = 300  # default: a signed request is valid ±5 min (terminals set their clock from GET /time)
# organizer/technician/viewer came first (REST scripts); admin, finance, support and readonly are the back office's
ROLES = ("organizer", "technician", "viewer", "admin", "finance", "support", "readonly")
READ_ONLY_ROLES = ("viewer", "readonly")


def request_fresh(timestamp: str, now: datetime | None = None, window_s: float = REQUEST_WINDOW_S) -> bool:
    try:
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        return False
    return abs(((now or datetime.now(UTC)) - when).total_seconds()) <= window_s


def first_use(store: Store, terminal_id: int, signature: str, window_s: float = REQUEST_WINDOW_S,
              now: datetime | None = None) -> bool:
    """Record a request signature; False when it was already used (a replayed request).

    A signature only needs remembering while its timestamp is inside the window, so
    entries older than twice the window are dropped. Kept in the database, so a replay
    is refused across collector restarts and several server processes."""
    now = now or datetime.now(UTC)
    expires = (now + timedelta(seconds=2 * window_s)).isoformat()
    if secrets.randbelow(100) == 0:
        store.execute("DELETE FROM request_signatures WHERE expires_at < ?", [now.isoformat()])
    return store.execute("INSERT INTO request_signatures (signature, terminal_id, expires_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (signature) DO NOTHING", [signature, terminal_id, expires]) == 1


def check_terminal_signature(public_key: str, signature: str, method: str, path: str, timestamp: str,
                             body: bytes) -> bool:
    return verify(public_key, signature, request_message(method, path, timestamp, body))


def _hash(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def set_user(store: Store, username: str, password: str, *, role: str = "organizer") -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(password) < 8:
        raise ValueError("a username and a password of at least 8 characters are needed")
    store.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role",
                  [username, _hash(password, secrets.token_bytes(16)), role, now_iso()])


def check_user(store: Store, username: str, password: str) -> str | None:
    """The user's role when the password is right, else None (same work either way)."""
    rows = store.query("SELECT password_hash, role FROM users WHERE username = ?", [username])
    stored = rows[0]["password_hash"] if rows else _hash("x", b"0" * 16)
    try:
        _, salt_b64, _ = stored.split("$")
        ok = hmac.compare_digest(_hash(password, base64.b64decode(salt_b64)), stored)
    except ValueError:
        return None
    return rows[0]["role"] if rows and ok else None
