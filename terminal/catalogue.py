"""Products sold at a stall: price keys grouped by category, and EAN-13 barcodes for scanners.

Plain validated data (from the configuration or a synced bundle); prices are
integer minor units like every amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def ean13_valid(code: str) -> bool:
    """13 digits whose last is the GS1 check digit of the first twelve."""
    if len(code) != 13 or not code.isascii() or not code.isdigit():
        return False
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == digits[12]


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=48)
    price: int = Field(ge=1, description="minor units")
    category: str = Field(default="", max_length=32)
    barcode: str = Field(default="", description="EAN-13, for keyboard-wedge scanners")

    @field_validator("barcode")
    @classmethod
    def _ean13(cls, value: str) -> str:
        if value and not ean13_valid(value):
            raise ValueError(f"barcode {value!r} is not a valid EAN-13 (13 digits with a correct check digit)")
        return value


@dataclass(frozen=True, kw_only=True)
class SaleItem:
    """One line of a sale: what the cart holds, the journal records (`as_item`) and a receipt prints."""

    sku: str
    name: str
    qty: int
    unit_price: int

    @property
    def total(self) -> int:
        return self.qty * self.unit_price

    def as_item(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "qty": self.qty, "unit_price": self.unit_price}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> SaleItem:
        """A line as the journal holds it (`items` of a sale entry)."""
        return cls(sku=str(item.get("sku", "")), name=str(item["name"]), qty=int(item["qty"]),
                   unit_price=int(item["unit_price"]))


class CatalogueError(ValueError):
    """Two products with one SKU or one barcode."""


class Catalogue:
    def __init__(self, products: Iterable[Product] = ()) -> None:
        self.products: list[Product] = list(products)
        self._by_sku: dict[str, Product] = {}
        self._by_barcode: dict[str, Product] = {}
        for p in self.products:
            if p.sku in self._by_sku:
                raise CatalogueError(f"catalogue lists SKU {p.sku!r} twice")
            self._by_sku[p.sku] = p
            if p.barcode:
                if p.barcode in self._by_barcode:
                    raise CatalogueError(f"catalogue lists barcode {p.barcode} twice")
                self._by_barcode[p.barcode] = p

    def get(self, sku: str) -> Product | None:
        return self._by_sku.get(sku)

    def by_barcode(self, code: str) -> Product | None:
        return self._by_barcode.get(code.strip())

    def categories(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.products:
            seen.setdefault(p.category, None)
        return list(seen)

    def in_category(self, category: str) -> list[Product]:
        return [p for p in self.products if p.category == category]
