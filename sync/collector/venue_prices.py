"""Prices per venue: a venue (a stage, a hall) may sell a vendor's product at its own price. The vendor's list
(sync.collector.catalogue_admin) stays the default; a bundle built for a terminal standing at a venue carries
that venue's prices in its vendor's list, so the till shows and charges them with no change on the terminal."""

from __future__ import annotations

from sync.collector.catalogue_admin import MAX_PRICE, CatalogueError
from sync.collector.storage import Store


def set_venue_price(store: Store, venue: str, vendor: str, product_id: str, price: int) -> dict:
    venue = " ".join(venue.split())
    if not 1 <= len(venue) <= 100:
        raise CatalogueError("a venue name is 1 to 100 characters")
    if not 1 <= price <= MAX_PRICE:
        raise CatalogueError("the price must be more than zero and at most 100000.00")
    if not store.scalar("SELECT 1 FROM catalogue WHERE vendor = ? AND product_id = ?", [vendor, product_id]):
        raise CatalogueError(f"no product {product_id} for {vendor}")
    store.execute("INSERT INTO venue_prices (venue, vendor, product_id, price) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (venue, vendor, product_id) DO UPDATE SET price = excluded.price",
                  [venue, vendor, product_id, price])
    return {"venue": venue, "vendor": vendor, "product_id": product_id, "price": price}


def drop_venue_price(store: Store, venue: str, vendor: str, product_id: str) -> bool:
    return store.execute("DELETE FROM venue_prices WHERE venue = ? AND vendor = ? AND product_id = ?",
                         [" ".join(venue.split()), vendor, product_id]) > 0


def prices_of_vendor(store: Store, vendor: str) -> dict[str, dict[str, int]]:
    """{product id: {venue: price}} for the catalogue page."""
    out: dict[str, dict[str, int]] = {}
    for r in store.query("SELECT venue, product_id, price FROM venue_prices WHERE vendor = ? ORDER BY venue",
                         [vendor]):
        out.setdefault(r["product_id"], {})[r["venue"]] = int(r["price"])
    return out


def at_venue(store: Store, catalogue: dict[str, list[dict]], venue: str) -> dict[str, list[dict]]:
    """The bundle's catalogue with the venue's prices in place of the vendors' ones."""
    if not venue:
        return catalogue
    own = {(r["vendor"], r["product_id"]): int(r["price"]) for r in store.query(
        "SELECT vendor, product_id, price FROM venue_prices WHERE venue = ?", [venue])}
    if not own:
        return catalogue
    return {vendor: [{**item, "price": own.get((vendor, item["id"]), item["price"])} for item in items]
            for vendor, items in catalogue.items()}
