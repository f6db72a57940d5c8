"""PINs are hashed, wrong PINs lock out, roles limit what an operator may do."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.app import NotPermitted, Permission, Role, allowed, require
from terminal.app.session import Session
from terminal.operators import LockoutPolicy, LoginFailed, OperatorError, OperatorStore, hash_pin, verify_pin


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> tuple[OperatorStore, Clock]:
    clock = Clock()
    s = OperatorStore(tmp_path / "operators.db", policy=LockoutPolicy(max_failures=3, lock_s=60), clock=clock)
    s.add("1", "Ana", "vendor", "1111")
    return s, clock


def test_pin_is_stored_only_as_a_hash(store: tuple[OperatorStore, Clock], tmp_path: Path) -> None:
    s, _ = store
    stored = s.db.execute("SELECT pin_hash FROM operators").fetchone()[0]
    assert stored.startswith("scrypt$") and "1111" not in stored
    assert b"1111" not in (tmp_path / "operators.db").read_bytes()
    assert verify_pin("1111", stored) and not verify_pin("1112", stored)
    assert not verify_pin("1111", "garbage")
    assert hash_pin("1111") != hash_pin("1111")  # salted


def test_login_and_lockout_after_repeated_failures(store: tuple[OperatorStore, Clock]) -> None:
    s, clock = store
    assert s.login("1", "1111").role is Role.VENDOR
    with pytest.raises(LoginFailed) as err:
        s.login("1", "0000")
    assert err.value.attempts_left == 2
    s.login("1", "1111")  # a right PIN resets the count
    for _ in range(2):
        with pytest.raises(LoginFailed):
            s.login("1", "0000")
    with pytest.raises(LoginFailed) as err:
        s.login("1", "0000")
    assert err.value.locked_for == 60
    with pytest.raises(LoginFailed, match="locked"):
        s.login("1", "1111")  # even the right PIN, while locked
    clock.now += 61
    assert s.login("1", "1111").id == "1"


def test_supervisor_unlock(store: tuple[OperatorStore, Clock]) -> None:
    s, _ = store
    for _ in range(3):
        with pytest.raises(LoginFailed):
            s.login("1", "9")
    s.unlock("1")
    assert s.login("1", "1111").id == "1"


def test_unknown_operator_gets_the_same_message(store: tuple[OperatorStore, Clock]) -> None:
    s, _ = store
    with pytest.raises(LoginFailed, match="unknown operator or wrong PIN"):
        s.login("42", "1111")


@pytest.mark.parametrize(("args", "message"), [
    (("1", "B", "vendor", "2222"), "exists"),
    (("x y", "B", "vendor", "2222"), "letters or digits"),
    (("2", "B", "boss", "2222"), "unknown role"),
    (("2", "B", "vendor", "12"), "4 to 8 digits"),
    (("2", "B", "vendor", "12ab"), "4 to 8 digits"),
])
def test_bad_operator_data(store: tuple[OperatorStore, Clock], args: tuple, message: str) -> None:
    s, _ = store
    with pytest.raises(OperatorError, match=message):
        s.add(*args)


def test_permissions_by_role() -> None:
    assert allowed("vendor", Permission.SELL) and allowed("vendor", Permission.VOID)
    assert not allowed("vendor", Permission.TOPUP) and not allowed("vendor", Permission.SETTINGS)
    assert allowed("cashier", Permission.REFUND) and not allowed("cashier", Permission.VOID)
    assert all(allowed("supervisor", p) for p in Permission)
    with pytest.raises(NotPermitted, match="a cashier may not settings"):
        require("cashier", Permission.SETTINGS)


def test_session_expires_after_inactivity() -> None:
    s = Session(operator="1", name="Ana", role=Role.VENDOR, started=0, last_seen=0, idle_timeout_s=300)
    assert not s.expired(300)
    assert s.expired(301)
    s.touch(301)
    assert not s.expired(600)
    assert s.may(Permission.SELL) and not s.may(Permission.MODE)


def test_product_codes_and_operator_ids_match_exactly() -> None:
    """`$` let a trailing newline through; the admin desk strips its inputs, but the patterns no longer rely on it."""
    from terminal.app.admin_desk import OPERATOR_ID, SKU

    assert SKU.match("BEER-0.5") and OPERATOR_ID.match("12")
    assert not SKU.match("BEER\n") and not OPERATOR_ID.match("12\n")
