"""Cards and guests: search, a card's page, and what the desk may do with it (every action audited)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.cards import card_page, known_card, search
from sync.collector.backoffice.filter_bar import CARD, read_bar
from sync.collector.backoffice.guest_access import card_secret
from sync.collector.backoffice.web import Web
from sync.collector.event import get_meta
from sync.collector.ledger import LedgerError, block_card, replacement_quote, unblock_card
from sync.collector.refunds import refund_cards
from sync.collector.storage import Store

CardId = Annotated[int, Path(ge=0, le=2**62)]


def routes(web: Web, keys: Any) -> APIRouter:
    router = APIRouter()
    store: Store = web.store

    def page(request: Request, card_id: int, status_code: int = 200, **extra: object) -> Response:
        data = card_page(store, card_id)
        if data is None:
            return web.render(request, "cards.html", status_code=404, results=[], q=str(card_id),
                              error=f"card {card_id} is not known to the collector (no entries synced)")
        bar = read_bar(request.query_params, store, CARD)
        history = data["history"]  # the choices: the terminals and days this card was seen at
        bar = replace(bar, options={"terminal": sorted({int(h["terminal_id"]) for h in history}),
                                    "day": sorted({str(h["time"] or "")[:10] for h in history} - {""})})
        data["history"] = [h for h in history if bar.keep(h, day_of="time")]
        return web.render(request, "card.html", status_code=422 if bar.error else status_code, c=data,
                          secret=card_secret(store, card_id), bar=bar,
                          log=audit.entries(store, target=f"card:{card_id}", limit=50), **extra)

    @web.route(router, "GET", "/cards", "view")
    def get_cards(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()[:100]
        results = search(store, q, master_key=getattr(keys, "master_key", None),
                         event_id=get_meta(store, "event_id") or "") if q else []
        if len(results) == 1 and results[0]["kind"] == "card":
            return RedirectResponse(f"/cards/{results[0]['card_id']}", status_code=303)
        return web.render(request, "cards.html", results=results, q=q,
                          error="nothing found" if q and not results else "")

    @web.route(router, "GET", "/cards/{card_id}", "view")
    def get_card(card_id: CardId, request: Request) -> Response:
        return page(request, card_id)

    async def reason_of(request: Request) -> str:
        return " ".join(str((await request.form()).get("reason") or "").split())[:200]

    @web.route(router, "POST", "/cards/{card_id}/block", "cards.block")
    async def post_block(card_id: CardId, request: Request) -> Response:
        reason = await reason_of(request)
        if not reason:
            return page(request, card_id, 422, error="say why the card is blocked (e.g. lost)")
        if not known_card(store, card_id):
            return page(request, card_id)
        block_card(store, card_id, reason, source=f"office:{request.state.session.username}")
        audit.record(store, request.state.session.username, "card blocked", f"card:{card_id}", reason=reason)
        return RedirectResponse(f"/cards/{card_id}", status_code=303)

    @web.route(router, "POST", "/cards/{card_id}/unblock", "cards.block")
    async def post_unblock(card_id: CardId, request: Request) -> Response:
        reason = await reason_of(request)
        if not reason:
            return page(request, card_id, 422, error="say why the card is unblocked (e.g. found)")
        try:
            removed = unblock_card(store, card_id)
        except LedgerError as exc:
            return page(request, card_id, 409, error=str(exc))
        if removed:
            audit.record(store, request.state.session.username, "card unblocked", f"card:{card_id}", reason=reason)
        return RedirectResponse(f"/cards/{card_id}", status_code=303)

    @web.route(router, "POST", "/cards/{card_id}/replace", "cards.replace")
    async def post_replace(card_id: CardId, request: Request) -> Response:
        reason = await reason_of(request) or "lost"
        try:
            quote = replacement_quote(store, card_id, reason=reason)
        except LedgerError as exc:
            return page(request, card_id, 409, error=str(exc))
        audit.record(store, request.state.session.username, "card replacement quoted", f"card:{card_id}",
                     reason=reason, balance=quote["balance"], comp=quote["comp"])
        return page(request, card_id, quote=quote)

    @web.route(router, "POST", "/cards/{card_id}/refund", "cards.refund")
    async def post_refund(card_id: CardId, request: Request) -> Response:
        reason = await reason_of(request)
        if not reason:
            return page(request, card_id, 422, error="say how the money was paid back (e.g. cash at the desk)")
        done = refund_cards(store, [card_id], by=request.state.session.username)
        if not done:
            return page(request, card_id, 409, error="nothing to refund on this card (closed, replaced or empty)")
        audit.record(store, request.state.session.username, "card refunded", f"card:{card_id}", reason=reason,
                     refunded=done[0]["refunded"], forfeited=done[0]["complimentary_forfeited"])
        return RedirectResponse(f"/cards/{card_id}", status_code=303)

    return router
