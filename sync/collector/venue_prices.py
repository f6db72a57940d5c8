"""Prices per venue: a venue (a stage, a hall) may sell a vendor's product at its own price. The vendor's list
(sync.collector.catalogue_admin) stays the default; a bundle built for a terminal standing at a venue carries
that venue's prices in its vendor's list, so the till shows and charges them with no change on the terminal."""

from __future__ import annotations

from sync.collector.catalogue_admin import MAX_PRICE, CatalogueError
from sync.collector.storage import Store
from sync.format.bundle import with_venue_prices


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


def overrides(store: Store, venue: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """{venue: {vendor: {product id: price}}}: every venue's own prices (or one venue's)."""
    sql, params = "SELECT venue, vendor, product_id, price FROM venue_prices", []
    if venue is not None:
        sql, params = sql + " WHERE venue = ?", [venue]
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in store.query(sql + " ORDER BY venue, vendor, product_id", params):
        out.setdefault(r["venue"], {}).setdefault(r["vendor"], {})[r["product_id"]] = int(r["price"])
    return out


def at_venue(store: Store, catalogue: dict[str, list[dict]], venue: str) -> dict[str, list[dict]]:
    """The bundle's catalogue with the venue's prices in place of the vendors' ones."""
    if not venue:
        return catalogue
    return with_venue_prices(catalogue, overrides(store, venue).get(venue))


def venues_section(store: Store) -> dict[str, dict]:
    """For the bundle written for all terminals at once (USB): where each active terminal stands and every venue's
    prices, so each terminal applies its own venue's (`sync.format.bundle.venue_of`, `with_venue_prices`)."""
    placed = {str(r["terminal_id"]): r["venue"] for r in store.query(
        "SELECT terminal_id, venue FROM terminals WHERE status = 'active' AND venue <> '' ORDER BY terminal_id")}
    return {"terminals": placed, "prices": overrides(store)}
