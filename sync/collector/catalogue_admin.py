"""Products and prices per vendor as the organizer edits them at the collector (name, price, category,
barcode). Bundles carry each vendor's list to its terminals (sync/bundle.py), which replace their catalogue."""

from __future__ import annotations

import re

from sync.collector.storage import Store

PRODUCT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_PRICE = 10**7  # minor units
# what terminals accept (terminal/app/catalogue.py): a bundle they would refuse must not leave the collector
MAX_NAME, MAX_CATEGORY = 48, 32


def ean13_valid(code: str) -> bool:
    """13 digits whose last is the GS1 check digit of the first twelve."""
    if len(code) != 13 or not code.isascii() or not code.isdigit():
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(code[:12]))
    return (10 - total % 10) % 10 == int(code[12])


class CatalogueError(Exception):
    """Refused product data, phrased for the back office."""


def vendors(store: Store) -> list[str]:
    return [r["vendor"] for r in store.query(
        "SELECT vendor FROM catalogue UNION SELECT vendor FROM terminals WHERE vendor <> '' ORDER BY vendor")]


def products(store: Store, vendor: str) -> list[dict]:
    return store.query("SELECT product_id, name, price, category, barcode FROM catalogue WHERE vendor = ? "
                       "ORDER BY category, name, product_id", [vendor])


def save_product(store: Store, vendor: str, product_id: str, name: str, price: int, category: str = "",
                 barcode: str = "") -> dict:
    vendor, name, category = (" ".join(v.split()) for v in (vendor, name, category))
    if not 1 <= len(vendor) <= 100:
        raise CatalogueError("a vendor name is 1 to 100 characters")
    if not PRODUCT_ID.fullmatch(product_id):
        raise CatalogueError("a product id is 1 to 32 letters, digits, - or _")
    if not 1 <= len(name) <= MAX_NAME or len(category) > MAX_CATEGORY:
        raise CatalogueError(f"a product name is 1 to {MAX_NAME} characters, a category at most {MAX_CATEGORY}")
    if not 1 <= price <= MAX_PRICE:
        raise CatalogueError("the price must be more than zero and at most 100000.00")
    if barcode and not ean13_valid(barcode):
        raise CatalogueError("a barcode is an EAN-13: 13 digits with a correct check digit")
    if barcode and store.scalar("SELECT 1 FROM catalogue WHERE vendor = ? AND barcode = ? AND product_id <> ?",
                                [vendor, barcode, product_id]):
        raise CatalogueError(f"barcode {barcode} is already used by another product of {vendor}")
    store.execute("INSERT INTO catalogue (vendor, product_id, name, price, category, barcode) VALUES "
                  "(?, ?, ?, ?, ?, ?) ON CONFLICT (vendor, product_id) DO UPDATE SET name = excluded.name, "
                  "price = excluded.price, category = excluded.category, barcode = excluded.barcode",
                  [vendor, product_id, name, price, category, barcode])
    return {"vendor": vendor, "product_id": product_id, "name": name, "price": price, "category": category,
            "barcode": barcode}


def delete_product(store: Store, vendor: str, product_id: str) -> None:
    if store.execute("DELETE FROM catalogue WHERE vendor = ? AND product_id = ?", [vendor, product_id]) == 0:
        raise CatalogueError(f"no product {product_id} for {vendor}")
