"""Back-office logins: password check with lock-out, sessions held by a cookie, API tokens for scripts.

Accounts are the collector's `users` rows (scrypt hashes, `sync.collector.auth`), so one login works for the
REST API and the back office. Only hashes of session cookies and tokens are stored: a copy of the
database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.collector.auth import check_user, set_user
from sync.collector.event import now_iso
from sync.collector.storage import Store

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)

# the REST roles of the first version map onto the back office's
OFFICE_ROLE = {"organizer": "admin", "technician": "support", "viewer": "readonly",
               "admin": "admin", "finance": "finance", "support": "support", "readonly": "readonly"}
OFFICE_ROLES = ("admin", "finance", "support", "readonly")


class LoginRefused(Exception):
    """Wrong name or password, or a locked account; the message is safe to show."""


@dataclass(frozen=True)
class Session:
    username: str
    role: str  # one of OFFICE_ROLES
    csrf: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _later(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_in(store: Store, username: str, password: str) -> tuple[str, Session]:
    """A new session cookie value and its session; LoginRefused after a wrong password or while locked.

    The password is checked even for a locked account (same time either way), but never unlocks it."""
    rows = store.query("SELECT role, failed_logins, locked_until FROM users WHERE username = ?", [username])
    role = check_user(store, username, password)
    locked = bool(rows) and rows[0]["locked_until"] is not None and rows[0]["locked_until"] > now_iso()
    if locked:
        raise LoginRefused("this account is locked after too many wrong passwords; try again later or ask an admin")
    if role is None:
        if rows:
            failed = int(rows[0]["failed_logins"]) + 1
            until = _later(LOCKOUT) if failed >= MAX_FAILED_LOGINS else None
            store.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                          [0 if until else failed, until, username])
        raise LoginRefused("wrong username or password")
    store.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [username])
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    store.execute("INSERT INTO office_sessions (session_hash, username, csrf, created_at, expires_at) "
                  "VALUES (?, ?, ?, ?, ?)", [_digest(cookie), username, csrf, now_iso(), _later(SESSION_LIFETIME)])
    return cookie, Session(username, OFFICE_ROLE.get(role, "readonly"), csrf)


def session_for(store: Store, cookie: str | None) -> Session | None:
    if not cookie:
        return None
    rows = store.query("SELECT s.username, s.csrf, u.role FROM office_sessions s JOIN users u "
                       "ON u.username = s.username WHERE s.session_hash = ? AND s.expires_at > ?",
                       [_digest(cookie), now_iso()])
    if not rows:
        return None
    return Session(rows[0]["username"], OFFICE_ROLE.get(rows[0]["role"], "readonly"), rows[0]["csrf"])


def log_out(store: Store, cookie: str | None) -> None:
    if cookie:
        store.execute("DELETE FROM office_sessions WHERE session_hash = ?", [_digest(cookie)])


def new_token(store: Store, username: str, name: str) -> str:
    """An API token for scripts (shown once); it acts with its account's role."""
    token = "spt_" + secrets.token_urlsafe(32)
    store.execute("INSERT INTO api_tokens (token_hash, username, name, created_at) VALUES (?, ?, ?, ?)",
                  [_digest(token), username, name[:100], now_iso()])
    return token


def token_role(store: Store, token: str) -> tuple[str, str] | None:
    """(username, users.role) of a token, or None."""
    rows = store.query("SELECT t.username, u.role FROM api_tokens t JOIN users u ON u.username = t.username "
                       "WHERE t.token_hash = ?", [_digest(token)])
    return (rows[0]["username"], rows[0]["role"]) if rows else None


def accounts(store: Store) -> list[dict]:
    rows = store.query("SELECT username, role, created_at, failed_logins, locked_until FROM users ORDER BY username")
    for r in rows:
        r["office_role"] = OFFICE_ROLE.get(r["role"], "readonly")
        r["locked"] = r["locked_until"] is not None and r["locked_until"] > now_iso()
    return rows


def save_account(store: Store, username: str, password: str, role: str) -> None:
    if role not in OFFICE_ROLES:
        raise ValueError(f"role must be one of {', '.join(OFFICE_ROLES)}")
    set_user(store, username, password, role=role)


def unlock(store: Store, username: str) -> bool:
    return store.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [username]) > 0
