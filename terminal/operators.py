"""Operators of a terminal: id, name, role and a PIN kept only as a scrypt hash.

A PIN is short, so the hash is slow on purpose (scrypt, 16 MiB) and the
terminal locks an operator out after repeated wrong PINs; a supervisor (or the
lock-out running out) lets them in again. PINs never reach a log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from terminal.refusal import Refusal
from terminal.schema import OPERATORS
from terminal.store import open_database

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PIN_DIGITS = (4, 8)


class Role(StrEnum):
    """An operator's role; what each may do is the till's table (terminal.app.permissions)."""

    VENDOR = "vendor"
    CASHIER = "cashier"
    SUPERVISOR = "supervisor"


def role_of(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        raise ValueError(f"unknown role {name!r}; use one of {', '.join(r.value for r in Role)}") from None


class OperatorError(Exception):
    """Bad operator data, phrased for the admin screen or the CLI."""


class LoginFailed(Refusal):
    """Unknown operator or wrong PIN (one message for both), or locked out (`locked_for` seconds)."""

    def __init__(self, message: str, *, locked_for: int = 0, attempts_left: int | None = None) -> None:
        super().__init__("locked_out" if locked_for else "login_failed", message)
        self.locked_for = locked_for
        self.attempts_left = attempts_left


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except ValueError:
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


def check_pin_format(pin: str) -> str:
    if not (pin.isascii() and pin.isdigit() and PIN_DIGITS[0] <= len(pin) <= PIN_DIGITS[1]):
        raise OperatorError(f"a PIN is {PIN_DIGITS[0]} to {PIN_DIGITS[1]} digits")
    return pin


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_s: int = 300


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    role: Role
    failures: int
    locked_until: float

    def locked(self, now: float) -> bool:
        return self.locked_until > now

    def as_dict(self, now: float) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "role": self.role.value, "failures": self.failures,
                "locked": self.locked(now), "locked_for": max(0, int(self.locked_until - now))}


class OperatorStore:
    """Operators in their own SQLite file in the data directory."""

    def __init__(self, path: Path | str, *, policy: LockoutPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = open_database(path, OPERATORS)
        self.policy = policy or LockoutPolicy()
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, operator_id: str, name: str, role: str, pin: str, *, replace: bool = False) -> Operator:
        if not (operator_id.isascii() and operator_id.isalnum() and 1 <= len(operator_id) <= 16):
            raise OperatorError("an operator id is 1 to 16 letters or digits")
        role_value = _role(role)
        check_pin_format(pin)
        if not name.strip():
            name = operator_id
        with self._lock:
            if not replace and self._row(operator_id) is not None:
                raise OperatorError(f"operator {operator_id} exists")
            self.db.execute("INSERT OR REPLACE INTO operators (id, name, role, pin_hash, failures, locked_until) "
                            "VALUES (?, ?, ?, ?, 0, 0)", [operator_id, name.strip(), role_value.value, hash_pin(pin)])
        found = self.get(operator_id)
        assert found is not None
        return found

    def remove(self, operator_id: str) -> None:
        with self._lock:
            if self.db.execute("DELETE FROM operators WHERE id = ?", [operator_id]).rowcount == 0:
                raise OperatorError(f"no operator {operator_id}")

    def set_pin(self, operator_id: str, pin: str) -> None:
        """A new PIN (a supervisor resets a forgotten one); also lifts a lock-out."""
        check_pin_format(pin)
        digest = hash_pin(pin)
        with self._lock:
            if self.db.execute("UPDATE operators SET pin_hash = ?, failures = 0, locked_until = 0 WHERE id = ?",
                               [digest, operator_id]).rowcount == 0:
                raise OperatorError(f"no operator {operator_id}")

    def get(self, operator_id: str) -> Operator | None:
        row = self._row(operator_id)
        return _operator(row) if row else None

    def all(self) -> list[Operator]:
        return [_operator(r) for r in self.db.execute(
            "SELECT id, name, role, pin_hash, failures, locked_until FROM operators ORDER BY id").fetchall()]

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM operators").fetchone()[0])

    def unlock(self, operator_id: str) -> None:
        with self._lock:
            if self.db.execute("UPDATE operators SET failures = 0, locked_until = 0 WHERE id = ?",
                               [operator_id]).rowcount == 0:
                raise OperatorError(f"no operator {operator_id}")

    def login(self, operator_id: str, pin: str) -> Operator:
        """The operator on a right PIN; LoginFailed otherwise. Each wrong PIN counts towards the lock-out."""
        now = self._clock()
        with self._lock:
            row = self._row(operator_id)
            if row is None:
                verify_pin(pin, _dummy_hash())  # same time as a wrong PIN: ids cannot be probed by timing
                raise LoginFailed("unknown operator or wrong PIN")
            op = _operator(row)
            if op.locked(now):
                raise LoginFailed("too many wrong PINs: locked", locked_for=int(op.locked_until - now) + 1)
            if verify_pin(pin, row[3]):
                self.db.execute("UPDATE operators SET failures = 0, locked_until = 0 WHERE id = ?", [op.id])
                return Operator(op.id, op.name, op.role, 0, 0)
            failures = op.failures + 1
            if failures >= self.policy.max_failures:
                self.db.execute("UPDATE operators SET failures = 0, locked_until = ? WHERE id = ?",
                                [now + self.policy.lock_s, op.id])
                raise LoginFailed("too many wrong PINs: locked", locked_for=self.policy.lock_s)
            self.db.execute("UPDATE operators SET failures = ? WHERE id = ?", [failures, op.id])
            raise LoginFailed("unknown operator or wrong PIN", attempts_left=self.policy.max_failures - failures)

    def apply_central(self, active: list[tuple[str, str, str, str]], removed: set[str]) -> dict[str, int]:
        """The collector's operator list from a bundle: `active` (id, name, role, agreed PIN hash) replace the
        central operators; ids in `removed` (disabled centrally) go, even where added locally. A PIN hash
        that did not change keeps the operator's lock-out state."""
        keep = {op_id for op_id, *_ in active}
        roles = [_role(role).value for _, _, role, _ in active]
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                gone = [r[0] for r in self.db.execute("SELECT id FROM operators WHERE source = 'central'").fetchall()
                        if r[0] not in keep] + sorted(removed - keep)
                for op_id in gone:
                    self.db.execute("DELETE FROM operators WHERE id = ?", [op_id])
                for (op_id, name, _, pin_hash), role in zip(active, roles, strict=True):
                    self.db.execute(
                        "INSERT INTO operators (id, name, role, pin_hash, source) VALUES (?, ?, ?, ?, 'central') "
                        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, "
                        "source = 'central', "
                        "failures = CASE WHEN pin_hash = excluded.pin_hash THEN failures ELSE 0 END, "
                        "locked_until = CASE WHEN pin_hash = excluded.pin_hash THEN locked_until ELSE 0 END, "
                        "pin_hash = excluded.pin_hash", [op_id, name, role, pin_hash])
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        return {"operators": len(active), "operators_removed": len(gone)}

    def _row(self, operator_id: str) -> tuple | None:
        return self.db.execute("SELECT id, name, role, pin_hash, failures, locked_until FROM operators "
                               "WHERE id = ?", [operator_id]).fetchone()


def _role(name: str) -> Role:
    try:
        return role_of(name)
    except ValueError as exc:
        raise OperatorError(str(exc)) from None


def _operator(row: tuple) -> Operator:
    return Operator(id=row[0], name=row[1], role=Role(row[2]), failures=int(row[4]), locked_until=float(row[5]))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_pin("0000", salt=b"\x00" * 16)
