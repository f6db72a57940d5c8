"""Catalogue editing per vendor in the back office: prices in major units, categories and barcodes checked,
audited; the vendor's terminals install the list from their next bundle (with category and barcode), other
vendors' terminals do not."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.bundle import build_bundle
from sync.collector.storage import Store
from terminal.catalogue_store import CatalogueStore
from terminal.config import load_keys
from terminal.uplink.bundle_apply import apply_bundle
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import configured_terminal

PASSWORD = "correct horse 1"


def test_products_edited_centrally_reach_the_vendors_terminals(tmp_path: Path, store: Store) -> None:
    cfg, _ = configured_terminal(tmp_path, 4)  # vendor "Grill"
    keys = load_keys(cfg.parent / "keys.toml")
    set_user(store, "admin", PASSWORD, role="admin")
    app = create_app(store, keys)
    admin = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', admin.get("/login").text)
    assert token
    admin.post("/login", data={"csrf": token.group(1), "username": "admin", "password": PASSWORD})
    csrf = re.search(r'name="csrf" value="([^"]+)"', admin.get("/cards").text).group(1)  # type: ignore[union-attr]

    def save(vendor: str, **fields: str) -> int:
        return admin.post(f"/catalogue/{vendor}", data={"csrf": csrf, **fields}).status_code

    assert save("Grill", product_id="wurst", name="Bratwurst", price="4,50", category="Food",
                barcode="4006381333931") == 303
    assert save("Grill", product_id="fries", name="Fries", price="3") == 303
    assert save("Bar", product_id="beer", name="Beer", price="5.00") == 303
    for bad in ({"product_id": "x y", "name": "A", "price": "1"}, {"product_id": "a", "name": "", "price": "1"},
                {"product_id": "a", "name": "A", "price": "-1"}, {"product_id": "a", "name": "A", "price": "0.001"},
                {"product_id": "a", "name": "A", "price": "1", "barcode": "4006381333932"},
                {"product_id": "a", "name": "A", "price": "0"},
                {"product_id": "a", "name": "A", "price": "1", "barcode": "4006381333931"}):  # barcode taken
        assert save("Grill", **bad) == 422, bad
    page = admin.get("/catalogue?vendor=Grill").text
    assert "Bratwurst" in page and "€4.50" in page and "Beer" not in page
    assert admin.post("/catalogue/Grill/fries/delete", data={"csrf": csrf}).status_code == 303
    assert admin.post("/catalogue/Grill/fries/delete", data={"csrf": csrf}).status_code == 404
    assert save("Grill", product_id="wurst", name="Bratwurst", price="4.80", category="Food",
                barcode="4006381333931") == 303  # a new price for the same product

    body = build_bundle(store, keys)["body"]
    assert body["catalogue"]["Grill"] == [{"id": "wurst", "name": "Bratwurst", "price": 480, "category": "Food",
                                           "barcode": "4006381333931"}]
    t = open_terminal(cfg)
    assert apply_bundle(t, body)["products"] == 1
    catalogue = CatalogueStore(t.config.data_dir / "catalogue.db").catalogue()
    product = catalogue.by_barcode("4006381333931")
    assert product is not None and product.sku == "wurst" and product.price == 480 and product.category == "Food"
    actions = [r["action"] for r in store.query("SELECT action FROM audit_log WHERE target LIKE 'catalogue:%'")]
    assert actions.count("product saved") == 4 and actions.count("product removed") == 1


def test_a_venue_sells_at_its_own_prices(tmp_path: Path, store: Store) -> None:
    import secrets

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sync.collector.enrollment import enroll
    from sync.format.keys import public_hex

    cfg, _ = configured_terminal(tmp_path, 4)  # vendor "Grill"
    keys = load_keys(cfg.parent / "keys.toml")
    for tid in (4, 5):
        enroll(store, tid, public_hex(Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))),
               role="sale", vendor="Grill")
    set_user(store, "admin", PASSWORD, role="admin")
    set_user(store, "support", PASSWORD, role="support")
    app = create_app(store, keys)

    def login(name: str) -> tuple[TestClient, str]:
        client = TestClient(app, follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"csrf": token.group(1), "username": name, "password": PASSWORD})
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/cards").text)
        assert found
        return client, found.group(1)

    admin, csrf = login("admin")
    assert admin.post("/catalogue/Grill", data={"csrf": csrf, "product_id": "wurst", "name": "Bratwurst",
                                                "price": "4.50"}).status_code == 303
    assert admin.post("/terminals/4/venue", data={"csrf": csrf, "venue": "Main stage"}).status_code == 303
    assert admin.post("/terminals/5/venue", data={"csrf": csrf, "venue": "Camping"}).status_code == 303

    def venue_price(client: TestClient, token: str, **fields: str) -> int:
        return client.post("/catalogue/Grill/wurst/venue-price", data={"csrf": token, **fields}).status_code

    assert venue_price(admin, csrf, venue="Main stage", price="5,50") == 303
    assert venue_price(admin, csrf, venue="Main stage", price="-1") == 422
    assert venue_price(admin, csrf, venue="", price="5") == 422
    assert admin.post("/catalogue/Grill/fries/venue-price", data={"csrf": csrf, "venue": "Camping",
                                                                  "price": "2"}).status_code == 422  # no product
    support, support_csrf = login("support")
    assert venue_price(support, support_csrf, venue="Camping", price="1") == 403
    page = admin.get("/catalogue?vendor=Grill").text
    assert "Main stage: €5.50" in page

    def price_for(tid: int | None) -> int:
        body = build_bundle(store, keys, terminal_id=tid)["body"]
        return body["catalogue"]["Grill"][0]["price"]

    assert (price_for(4), price_for(5), price_for(None)) == (550, 450, 450)
    t = open_terminal(cfg)
    assert apply_bundle(t, build_bundle(store, keys, terminal_id=4)["body"])["products"] == 1
    product = CatalogueStore(t.config.data_dir / "catalogue.db").catalogue().get("wurst")
    assert product is not None and product.price == 550
    # an empty price takes the venue back to the vendor's
    assert venue_price(admin, csrf, venue="Main stage", price="") == 303
    assert venue_price(admin, csrf, venue="Main stage", price="") == 422
    assert price_for(4) == 450
    actions = [r["action"] for r in store.query("SELECT action FROM audit_log WHERE target = 'catalogue:Grill'")]
    assert actions.count("venue price saved") == 2
