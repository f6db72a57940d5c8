"""Catalogue and prices per vendor: list, add or change a product (price in major units), remove one.
Terminals of the vendor get the list in their next bundle."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.routes_corrections import minor_units
from sync.collector.catalogue_admin import CatalogueError, delete_product, products, save_product, vendors
from sync.collector.corrections import CorrectionError
from sync.collector.storage import Store
from sync.collector.venue_prices import drop_venue_price, prices_of_vendor, set_venue_price

Vendor = Annotated[str, Path(min_length=1, max_length=100)]
ProductId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


def routes(web: Any) -> APIRouter:
    router = APIRouter()
    store: Store = web.store

    def page(request: Request, vendor: str, status_code: int = 200, **extra: object) -> Response:
        return web.render(request, "catalogue.html", status_code=status_code, vendors=vendors(store),
                          vendor=vendor, products=products(store, vendor) if vendor else [],
                          venue_prices=prices_of_vendor(store, vendor) if vendor else {}, venues=[
                              r["venue"] for r in store.query("SELECT DISTINCT venue FROM terminals "
                                                              "WHERE venue <> '' ORDER BY venue")], **extra)

    @web.route(router, "GET", "/catalogue", "view")
    def get_catalogue(request: Request) -> Response:
        vendor = request.query_params.get("vendor", "")[:100]
        return page(request, vendor or next(iter(vendors(store)), ""))

    @web.route(router, "POST", "/catalogue/{vendor}", "catalogue.manage")
    async def post_product(vendor: Vendor, request: Request) -> Response:
        form = await request.form()
        try:
            price = minor_units(str(form.get("price") or ""), web.currency)
            saved = save_product(store, vendor, str(form.get("product_id") or "").strip(),
                                 str(form.get("name") or ""), price, str(form.get("category") or ""),
                                 str(form.get("barcode") or "").strip())
        except (CatalogueError, CorrectionError) as exc:
            return page(request, vendor, 422, error=str(exc))
        audit.record(store, request.state.session.username, "product saved", f"catalogue:{vendor}",
                     product=saved["product_id"], price=saved["price"])
        return RedirectResponse(f"/catalogue?vendor={saved['vendor']}", status_code=303)

    @web.route(router, "POST", "/catalogue/{vendor}/{product_id}/delete", "catalogue.manage")
    def post_delete(vendor: Vendor, product_id: ProductId, request: Request) -> Response:
        try:
            delete_product(store, vendor, product_id)
        except CatalogueError as exc:
            return page(request, vendor, 404, error=str(exc))
        audit.record(store, request.state.session.username, "product removed", f"catalogue:{vendor}",
                     product=product_id)
        return RedirectResponse(f"/catalogue?vendor={vendor}", status_code=303)

    @web.route(router, "POST", "/catalogue/{vendor}/{product_id}/venue-price", "catalogue.manage")
    async def post_venue_price(vendor: Vendor, product_id: ProductId, request: Request) -> Response:
        """A venue's own price; an empty price takes the venue back to the vendor's."""
        form = await request.form()
        venue, text = str(form.get("venue") or ""), str(form.get("price") or "").strip()
        try:
            if text:
                saved = set_venue_price(store, venue, vendor, product_id, minor_units(text, web.currency))
            elif not drop_venue_price(store, venue, vendor, product_id):
                raise CatalogueError(f"{product_id} has no own price at {venue!r}")
            else:
                saved = {"venue": venue, "product_id": product_id, "price": None}
        except (CatalogueError, CorrectionError) as exc:
            return page(request, vendor, 422, error=str(exc))
        audit.record(store, request.state.session.username, "venue price saved", f"catalogue:{vendor}",
                     product=product_id, venue=saved["venue"], price=saved["price"])
        return RedirectResponse(f"/catalogue?vendor={vendor}", status_code=303)

    return router
