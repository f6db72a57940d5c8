"""The terminal's catalogue in its own SQLite file: seeded once from terminal.toml, edited on the admin screen,
replaced as a whole by a collector bundle.

The TOML list is only the first day's catalogue: after the first start the
file in the data directory is the truth, so a supervisor's price change
survives a restart and a collector bundle replaces both. Every change bumps a
revision number that readers compare (one cheap query) to know when to
rebuild their `Catalogue`, also when another process (sync) wrote it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from terminal.catalogue import Catalogue, CatalogueError, Product
from terminal.schema import CATALOGUE
from terminal.store import open_database

FIELDS = ("sku", "name", "price", "category", "barcode")
SOURCES = ("config", "admin", "collector")


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def make_product(data: Mapping[str, Any] | Product) -> Product:
    """A validated product; CatalogueError says which field is wrong and why."""
    if isinstance(data, Product):
        return data
    try:
        return Product.model_validate(dict(data))
    except ValidationError as exc:
        raise CatalogueError(_explain(exc)) from None


def products_from_bundle(catalogue: Mapping[str, list[Mapping[str, Any]]], vendor: str,
                         current: Catalogue | None = None) -> list[Product]:
    """This vendor's products from a bundle's `catalogue` ({vendor: [{id, name, price}]}).

    A bundle item may carry a category and a barcode (edited in the back office); without them those are
    kept from the current catalogue for the same SKU, so a price update from the collector does not empty
    the scanner table.
    """
    out = []
    for item in catalogue.get(vendor, []):
        sku = str(item.get("id", ""))
        known = current.get(sku) if current is not None else None
        out.append(make_product({"sku": sku, "name": item.get("name", ""), "price": item.get("price", 0),
                                 "category": item.get("category", known.category if known else ""),
                                 "barcode": item.get("barcode", known.barcode if known else "")}))
    return out


class CatalogueStore:
    def __init__(self, path: Path | str, *, seed: Iterable[Product] = ()) -> None:
        self.db = open_database(path, CATALOGUE)
        self._lock = threading.Lock()
        self._cached: tuple[int, Catalogue] | None = None
        with self._lock, self._transaction():
            if self._meta("seeded") is None:  # first start only: removing every product later does not re-seed
                products = list(seed)
                Catalogue(products)  # duplicate SKU / barcode in the TOML: refuse here, with the reason
                self._write_all(products)
                self._set_meta("seeded", str(time.time()))
                self._bump("config")

    # --- reading ---------------------------------------------------------------------------------

    def revision(self) -> int:
        return int(self._meta("revision") or 0)

    def source(self) -> str:
        """Who made the current catalogue: config (seed), admin (a supervisor) or collector (a bundle)."""
        return self._meta("source") or "config"

    def catalogue(self) -> Catalogue:
        revision = self.revision()
        cached = self._cached
        if cached is not None and cached[0] == revision:
            return cached[1]
        rows = self.db.execute("SELECT sku, name, price, category, barcode FROM products "
                               "ORDER BY position, sku").fetchall()
        fresh = Catalogue(Product(sku=r[0], name=r[1], price=r[2], category=r[3], barcode=r[4]) for r in rows)
        self._cached = (revision, fresh)
        return fresh

    # --- editing (admin screen) --------------------------------------------------------------------

    def add(self, data: Mapping[str, Any] | Product) -> Product:
        product = make_product(data)
        with self._lock, self._transaction():
            current = self.catalogue()
            if current.get(product.sku) is not None:
                raise CatalogueError(f"a product with SKU {product.sku} exists")
            self._check_barcode(current, product)
            position = self.db.execute("SELECT coalesce(max(position), -1) + 1 FROM products").fetchone()[0]
            self._insert(product, position)
            self._bump("admin")
        return product

    def update(self, sku: str, changes: Mapping[str, Any]) -> Product:
        unknown = [k for k in changes if k not in FIELDS or k == "sku"]
        if unknown:
            raise CatalogueError(f"cannot change {', '.join(unknown)}; editable: name, price, category, barcode")
        with self._lock, self._transaction():
            current = self.catalogue()
            old = current.get(sku)
            if old is None:
                raise CatalogueError(f"no product with SKU {sku}")
            product = make_product({**old.model_dump(), **changes})
            self._check_barcode(current, product)
            self.db.execute("UPDATE products SET name = ?, price = ?, category = ?, barcode = ? WHERE sku = ?",
                            [product.name, product.price, product.category, product.barcode, sku])
            self._bump("admin")
        return product

    def remove(self, sku: str) -> None:
        with self._lock, self._transaction():
            if self.db.execute("DELETE FROM products WHERE sku = ?", [sku]).rowcount == 0:
                raise CatalogueError(f"no product with SKU {sku}")
            self._bump("admin")

    def replace_all(self, products: Iterable[Mapping[str, Any] | Product], source: str = "collector") -> int:
        """Swap the whole catalogue in one transaction (a collector bundle); nothing changes if one is bad."""
        if source not in SOURCES:
            raise CatalogueError(f"unknown catalogue source {source!r}; one of {', '.join(SOURCES)}")
        validated = [make_product(p) for p in products]
        Catalogue(validated)  # duplicates refused before anything is written
        with self._lock, self._transaction():
            self._write_all(validated)
            self._bump(source)
        return len(validated)

    def close(self) -> None:
        self.db.conn.close()

    # --- inside ----------------------------------------------------------------------------------------

    def _transaction(self) -> Any:
        db = self.db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind: object, *_: object) -> None:
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return _Tx()

    def _check_barcode(self, current: Catalogue, product: Product) -> None:
        if product.barcode:
            other = current.by_barcode(product.barcode)
            if other is not None and other.sku != product.sku:
                raise CatalogueError(f"barcode {product.barcode} is already used by {other.sku}")

    def _write_all(self, products: list[Product]) -> None:
        self.db.execute("DELETE FROM products")
        for position, product in enumerate(products):
            self._insert(product, position)

    def _insert(self, product: Product, position: int) -> None:
        self.db.execute("INSERT INTO products (sku, name, price, category, barcode, position) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [product.sku, product.name, product.price, product.category, product.barcode, position])

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def _bump(self, source: str) -> None:
        self._set_meta("revision", str(self.revision() + 1))
        self._set_meta("source", source)
