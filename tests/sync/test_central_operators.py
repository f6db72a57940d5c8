"""Operators managed at the collector: the agreed PIN hash verifies on the terminal, bundles carry the list,
the terminal installs its vendor's operators and removes disabled ones (even local), and refuses hashes in any
other form."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.collector.bundle import build_bundle
from sync.collector.central_operators import OperatorError, add_operator, set_pin, set_status
from sync.collector.storage import Store
from sync.format import pin_hash
from terminal.config import EventKeys
from terminal.operators import LoginFailed, OperatorStore, verify_pin
from terminal.uplink.operator_bundle import apply_operators, split
from tests.sync.journals import EVENT


def test_agreed_hash_is_the_terminals_format() -> None:
    digest = pin_hash.hash_pin("2468")
    assert pin_hash.is_agreed(digest) and verify_pin("2468", digest) and not verify_pin("2469", digest)
    from terminal.operators import hash_pin as terminal_hash

    assert pin_hash.is_agreed(terminal_hash("2468"))
    n, r, p = pin_hash.SCRYPT_N, pin_hash.SCRYPT_R, pin_hash.SCRYPT_P
    salt, dig = digest.split("$")[4:]
    for other in (f"scrypt${2**20}${r}${p}${salt}${dig}", f"scrypt${n}${r}${p}${salt[:-2]}${dig}",
                  f"scrypt${n}${r}${p}${salt.upper()}${dig}", f"bcrypt${n}${r}${p}${salt}${dig}", 42, None):
        assert not pin_hash.is_agreed(other), other
    with pytest.raises(pin_hash.PinError):
        pin_hash.hash_pin("12a4")


def test_collector_refuses_bad_operators(store: Store) -> None:
    add_operator(store, "anna7", "Anna", "cashier", "", "2468")
    for args in (("anna7", "A", "cashier", "", "1234"), ("bad id", "A", "cashier", "", "1234"),
                 ("bob", "B", "admin", "", "1234"), ("bob", "B", "vendor", "", "12"),
                 ("bob", "B", "vendor", "", "١٢٣٤")):
        with pytest.raises(OperatorError):
            add_operator(store, *args)
    with pytest.raises(OperatorError):
        set_status(store, "nobody", "disabled")
    with pytest.raises(OperatorError):
        set_pin(store, "anna7", "abcd")


def test_bundle_carries_operators_and_the_terminal_applies_them(store: Store, tmp_path: Path) -> None:
    keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
    add_operator(store, "anna7", "Anna", "cashier", "", "2468")
    add_operator(store, "grill1", "Grill staff", "vendor", "Grill", "1111")
    add_operator(store, "bar1", "Bar staff", "vendor", "Bar", "2222")
    local = OperatorStore(tmp_path / "operators.db")
    local.add("boss", "Local boss", "supervisor", "9999")
    local.add("lost", "Lost card", "cashier", "5555")
    set_status(store, "bar1", "disabled")
    add_operator(store, "lost", "Lost card", "cashier", "", "5555")
    set_status(store, "lost", "disabled")

    body = build_bundle(store, keys)["body"]
    rows = {r["operator_id"]: r for r in body["operators"]}
    assert rows["lost"]["status"] == "disabled" and rows["lost"]["pin_hash"] == ""
    assert apply_operators(tmp_path, "Grill", body["operators"])["operators"] == 2
    assert {o.id for o in local.all()} == {"anna7", "boss", "grill1"}  # bar1: other vendor; lost: disabled
    assert local.login("grill1", "1111").role.value == "vendor"
    with pytest.raises(LoginFailed):
        local.login("lost", "5555")

    set_status(store, "anna7", "disabled")
    set_pin(store, "grill1", "4321")
    apply_operators(tmp_path, "Grill", build_bundle(store, keys)["body"]["operators"])
    with pytest.raises(LoginFailed):
        local.login("anna7", "2468")
    with pytest.raises(LoginFailed):
        local.login("grill1", "1111")
    assert local.login("grill1", "4321").id == "grill1" and local.login("boss", "9999").id == "boss"
    assert apply_operators(tmp_path, "Grill", None) == {}  # an old bundle without operators changes nothing


def test_malformed_rows_are_skipped_and_never_verified() -> None:
    good = pin_hash.hash_pin("2468")
    active, removed, skipped = split([
        {"operator_id": "ok1", "role": "cashier", "pin_hash": good, "vendor": ""},
        {"operator_id": "huge", "role": "cashier", "pin_hash": f"scrypt${2**24}$8$1${'0' * 32}${'0' * 64}"},
        {"operator_id": "root", "role": "admin", "pin_hash": good},
        {"operator_id": "../x", "role": "cashier", "pin_hash": good}, "x", None, {"operator_id": 5}], "Grill")
    assert [a[0] for a in active] == ["ok1"] and removed == {"huge", "root"} and skipped == 6
