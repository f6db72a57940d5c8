"""The cart being rung up: product lines and keyed amounts, in minor units.

Lives on the server (not in the browser) so that a reload, a second screen and
the customer display all see the same cart.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from terminal.catalogue import Product, SaleItem
from terminal.money import is_minor_units

MAX_QTY = 99
MAX_LINES = 50
AMOUNT_SKU = "AMOUNT"  # a keypad amount (canteen style): one line per keyed sum


class CartError(ValueError):
    """Bad quantity, unknown line, or a cart that is full."""


CartLine = SaleItem  # a cart's lines are the sale's items: one type from cart to journal to receipt


class Cart:
    def __init__(self) -> None:
        self.lines: list[CartLine] = []

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def empty(self) -> bool:
        return not self.lines

    def add(self, product: Product, qty: int = 1) -> CartLine:
        _check_qty(qty)
        for i, line in enumerate(self.lines):
            if line.sku == product.sku and line.unit_price == product.price:
                if line.qty + qty > MAX_QTY:
                    raise CartError(f"at most {MAX_QTY} of one product")
                self.lines[i] = replace(line, qty=line.qty + qty)
                return self.lines[i]
        return self._append(SaleItem(sku=product.sku, name=product.name, qty=qty, unit_price=product.price))

    def add_amount(self, amount: int, label: str = "Amount") -> CartLine:
        if not is_minor_units(amount, minimum=1):
            raise CartError("a keyed amount must be more than zero")
        return self._append(SaleItem(sku=AMOUNT_SKU, name=label, qty=1, unit_price=amount))

    def set_qty(self, index: int, qty: int) -> None:
        line = self._line(index)
        if qty == 0:
            del self.lines[index]
            return
        _check_qty(qty)
        self.lines[index] = replace(line, qty=qty)

    def remove(self, index: int) -> None:
        self._line(index)
        del self.lines[index]

    def clear(self) -> None:
        self.lines.clear()

    def items(self) -> list[dict[str, Any]]:
        return [line.as_item() for line in self.lines]

    def _append(self, line: CartLine) -> CartLine:
        if len(self.lines) >= MAX_LINES:
            raise CartError(f"a cart holds at most {MAX_LINES} lines")
        self.lines.append(line)
        return line

    def _line(self, index: int) -> CartLine:
        if not 0 <= index < len(self.lines):
            raise CartError(f"no cart line {index}")
        return self.lines[index]


def _check_qty(qty: int) -> None:
    if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= MAX_QTY:
        raise CartError(f"quantity must be 1..{MAX_QTY}")
