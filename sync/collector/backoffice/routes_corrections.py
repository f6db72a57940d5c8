"""A correction of a card's balance by finance: an amount in major units and a mandatory reason, audited and
booked as a correction (sync.collector.corrections), shown on the card page."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from babel.numbers import get_currency_precision
from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.cards import card_page
from sync.collector.backoffice.guest_access import card_secret
from sync.collector.corrections import CorrectionError, correct
from sync.collector.storage import Store

CardId = Annotated[int, Path(ge=0, le=2**62)]


def minor_units(text: str, currency: str) -> int:
    """'-2.50' or '+3,5' in major units as exact minor units; CorrectionError for anything else."""
    cleaned = text.strip().replace(",", ".").replace(" ", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise CorrectionError("the amount is a number in major units, e.g. 2.50 or -1.00") from None
    if not value.is_finite():
        raise CorrectionError("the amount is a number in major units, e.g. 2.50 or -1.00")
    scaled = value.scaleb(get_currency_precision(currency))
    if scaled != scaled.to_integral_value() or abs(scaled) > 10**12:
        raise CorrectionError(f"{currency} has {get_currency_precision(currency)} decimals")
    return int(scaled)


def routes(web: Any) -> APIRouter:
    router = APIRouter()
    store: Store = web.store

    @web.route(router, "POST", "/cards/{card_id}/correct", "cards.correct")
    async def post_correct(card_id: CardId, request: Request) -> Response:
        form = await request.form()
        user = request.state.session.username
        try:
            amount = minor_units(str(form.get("amount") or ""), web.currency)
            row = correct(store, card_id, amount, str(form.get("reason") or ""), by=user)
        except CorrectionError as exc:
            data = card_page(store, card_id)
            if data is None:
                return web.render(request, "cards.html", status_code=404, results=[], q=str(card_id), error=str(exc))
            return web.render(request, "card.html", status_code=422, c=data, secret=card_secret(store, card_id),
                              log=audit.entries(store, target=f"card:{card_id}", limit=50), error=str(exc))
        audit.record(store, user, "card corrected", f"card:{card_id}", amount=amount, reason=row["reason"],
                     correction=row["correction_id"])
        return RedirectResponse(f"/cards/{card_id}", status_code=303)

    return router
