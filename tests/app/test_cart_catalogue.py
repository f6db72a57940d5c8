from __future__ import annotations

import pytest
from pydantic import ValidationError

from terminal.app import Cart, CartError, Catalogue, CatalogueError, Product, ean13_valid

BEER = Product(sku="BEER", name="Beer", price=450, category="Drinks", barcode="4006381333931")


def test_ean13_check_digit() -> None:
    assert ean13_valid("4006381333931")
    assert not ean13_valid("4006381333932")
    assert not ean13_valid("400638133393")
    assert not ean13_valid("40063813339٣1")  # non-ASCII digit


def test_product_refuses_a_bad_barcode_and_a_free_price() -> None:
    with pytest.raises(ValidationError, match="not a valid EAN-13"):
        Product(sku="X", name="X", price=1, barcode="1234567890123")
    with pytest.raises(ValidationError):
        Product(sku="X", name="X", price=0)


def test_catalogue_lookups_and_duplicates() -> None:
    cat = Catalogue([BEER, Product(sku="WATER", name="Water", price=200, category="Drinks"),
                     Product(sku="FRIES", name="Fries", price=350, category="Food")])
    assert cat.by_barcode(" 4006381333931\n") == BEER
    assert cat.categories() == ["Drinks", "Food"]
    assert [p.sku for p in cat.in_category("Drinks")] == ["BEER", "WATER"]
    with pytest.raises(CatalogueError, match="SKU 'BEER' twice"):
        Catalogue([BEER, BEER])


def test_cart_totals_merge_and_keyed_amounts() -> None:
    cart = Cart()
    cart.add(BEER)
    cart.add(BEER, 2)
    cart.add_amount(125)
    assert cart.total == 3 * 450 + 125
    assert cart.items()[0] == {"sku": "BEER", "name": "Beer", "qty": 3, "unit_price": 450}
    cart.set_qty(0, 0)
    assert cart.total == 125
    with pytest.raises(CartError, match="quantity"):
        cart.add(BEER, 100)
    with pytest.raises(CartError, match="more than zero"):
        cart.add_amount(0)
    with pytest.raises(CartError, match="no cart line"):
        cart.remove(5)
