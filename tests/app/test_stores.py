"""Catalogue and settings stores without a server: seeding once, validation, atomic replacement, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.app import CatalogueError, Product
from terminal.catalogue_store import CatalogueStore, products_from_bundle
from terminal.operators import OperatorError, OperatorStore, verify_pin
from terminal.settings_store import SettingsError, SettingsStore

SEED = [Product(sku="A", name="Apple", price=100, category="Fruit", barcode="4006381333931"),
        Product(sku="B", name="Bread", price=250)]


def test_seeded_once_from_the_configuration(tmp_path: Path) -> None:
    store = CatalogueStore(tmp_path / "c.db", seed=SEED)
    assert [p.sku for p in store.catalogue().products] == ["A", "B"] and store.source() == "config"
    store.remove("A")
    store.remove("B")
    store.close()
    again = CatalogueStore(tmp_path / "c.db", seed=SEED)  # the TOML list does not come back
    assert again.catalogue().products == []


def test_duplicate_seed_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="SKU 'A' twice"):
        CatalogueStore(tmp_path / "c.db", seed=[SEED[0], SEED[0]])


def test_edits_are_validated_and_the_revision_moves(tmp_path: Path) -> None:
    store = CatalogueStore(tmp_path / "c.db", seed=SEED)
    rev = store.revision()
    assert store.update("B", {"price": 275}).price == 275
    assert store.revision() == rev + 1 and store.source() == "admin"
    with pytest.raises(CatalogueError, match="EAN-13"):
        store.update("B", {"barcode": "4006381333932"})
    with pytest.raises(CatalogueError, match="already used by A"):
        store.update("B", {"barcode": "4006381333931"})
    with pytest.raises(CatalogueError, match="price"):
        store.add({"sku": "C", "name": "C", "price": 0})
    with pytest.raises(CatalogueError, match="cannot change sku"):
        store.update("B", {"sku": "Z"})
    assert store.catalogue().get("B") == Product(sku="B", name="Bread", price=275)


def test_replace_all_is_all_or_nothing(tmp_path: Path) -> None:
    store = CatalogueStore(tmp_path / "c.db", seed=SEED)
    with pytest.raises(CatalogueError):
        store.replace_all([{"sku": "X", "name": "X", "price": 5}, {"sku": "Y", "name": "Y", "price": -1}])
    assert [p.sku for p in store.catalogue().products] == ["A", "B"]
    assert store.replace_all([Product(sku="X", name="X", price=5)]) == 1
    assert [p.sku for p in store.catalogue().products] == ["X"] and store.source() == "collector"
    with pytest.raises(CatalogueError, match="unknown catalogue source"):
        store.replace_all([], source="usb")


def test_bundle_products_keep_local_barcodes_and_check_ids(tmp_path: Path) -> None:
    store = CatalogueStore(tmp_path / "c.db", seed=SEED)
    products = products_from_bundle({"Stall": [{"id": "A", "name": "Apple", "price": 120}]}, "Stall",
                                    store.catalogue())
    assert products == [Product(sku="A", name="Apple", price=120, category="Fruit", barcode="4006381333931")]
    assert products_from_bundle({"Stall": []}, "Other") == []
    with pytest.raises(CatalogueError, match="sku"):
        products_from_bundle({"Stall": [{"id": "has space", "name": "N", "price": 1}]}, "Stall")


def test_settings_override_defaults_and_persist(tmp_path: Path) -> None:
    legacy = tmp_path / "ui-state.json"
    legacy.write_text('{"mode": "cashier", "language": "xx"}')
    store = SettingsStore(tmp_path / "s.db", legacy_json=legacy)
    assert store.get("mode", "sale") == "cashier"  # carried over from the older file
    assert store.get("language", "en") == "en"  # an invalid old value is not
    store.set("receipt", "on_request")
    with pytest.raises(SettingsError, match="receipt must be one of always, on_request"):
        store.set("receipt", "never")
    with pytest.raises(SettingsError, match="unknown setting"):
        store.set("volume", "11")
    store.close()
    assert SettingsStore(tmp_path / "s.db").get("receipt", "always") == "on_request"


def test_operator_pin_reset_remove_and_unknown_ids(tmp_path: Path) -> None:
    ops = OperatorStore(tmp_path / "o.db")
    ops.add("1", "One", "vendor", "1111")
    ops.set_pin("1", "2468")
    row = ops._row("1")
    assert row is not None and verify_pin("2468", row[3]) and "2468" not in row[3]
    with pytest.raises(OperatorError, match="4 to 8 digits"):
        ops.set_pin("1", "12")
    for action in (ops.remove, ops.unlock, lambda i: ops.set_pin(i, "1234")):
        with pytest.raises(OperatorError, match="no operator 7"):
            action("7")
    ops.remove("1")
    assert ops.count() == 0
