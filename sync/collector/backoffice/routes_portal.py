"""The guest portal at /portal: public, separate from the back office (own cookie, no office session),
rate-limited. A guest sees only the one card whose printed id and secret they typed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from sync.collector.backoffice import audit
from sync.collector.backoffice.cards import card_page, known_card
from sync.collector.backoffice.guest_access import cookie_card, guest_cookie, secret_matches
from sync.collector.backoffice.payouts import PayoutError, request_payout
from sync.collector.backoffice.portal_session import SIGN_IN_AGAIN, PortalSession
from sync.collector.backoffice.web import Web
from sync.collector.ledger import block_card

PORTAL_COOKIE = "stallpay_guest"
PORTAL_LOGIN = "stallpay_guest_login"
GUEST_OPS = {"issue": "Wristband issued", "topup": "Top-up", "sale": "Purchase", "void": "Purchase cancelled",
             "close": "Checkout", "replace": "Moved from a lost band", "correct": "Correction"}


def _typed(form: FormData) -> str:
    return "".join(str(form.get("card") or "").split()).replace("-", "")


def routes(web: Web) -> APIRouter:
    router = APIRouter(prefix="/portal")
    store = web.store
    session: PortalSession[int] = PortalSession(web, path="/portal", cookie=PORTAL_COOKIE, login_cookie=PORTAL_LOGIN,
                                                login_template="portal_login.html", csrf_salt="portal-csrf",
                                                guest_of=lambda cookie: cookie_card(store, cookie))
    login = session.login

    def card(request: Request, card_id: int, status: int = 200, **extra: object) -> Response:
        data = card_page(store, card_id)
        if data is None:
            return login(request)
        history = [h for h in data["history"] if h["phase"] == "commit"]
        return web.render(request, "portal_card.html", status_code=status, c=data, history=history, ops=GUEST_OPS,
                          csrf=session.csrf(request), **extra)

    def cookie_for(form: FormData) -> str | None:
        typed = _typed(form)
        if not typed.isdigit() or len(typed) > 19 or not known_card(store, int(typed)) or not secret_matches(
                store, int(typed), str(form.get("secret") or "")):
            return None
        return guest_cookie(store, int(typed))

    @router.get("", include_in_schema=False)
    def get_portal(request: Request) -> Response:
        card_id = session.guest(request)
        return card(request, card_id) if card_id is not None else login(request)

    @router.post("/login", include_in_schema=False)
    async def post_login(request: Request) -> Response:
        return await session.sign_in(request, lambda form: f"card:{_typed(form)[:20]}", cookie_for,
                                     "Card number or secret code not recognised. Check both on your wristband "
                                     "or receipt.")

    @router.post("/logout", include_in_schema=False)
    def post_logout() -> Response:
        return session.sign_out()

    @router.post("/block", include_in_schema=False)
    async def post_block(request: Request) -> Response:
        card_id, _form = await session.checked(request)
        if card_id is None:
            return login(request, SIGN_IN_AGAIN, 401)
        block_card(store, card_id, "lost (reported by the guest)", source="portal")
        audit.record(store, "guest", "card blocked", f"card:{card_id}", reason="lost (portal)")
        return card(request, card_id, message="Your wristband is blocked. Nobody can pay with it any more.")

    @router.post("/refund", include_in_schema=False)
    async def post_refund(request: Request) -> Response:
        card_id, form = await session.checked(request)
        if card_id is None:
            return login(request, SIGN_IN_AGAIN, 401)
        try:
            result = request_payout(store, card_id, str(form.get("holder") or ""), str(form.get("iban") or ""),
                                    str(form.get("bic") or ""))
        except PayoutError as exc:
            return card(request, card_id, 422, error=str(exc), holder=form.get("holder", ""),
                        iban=form.get("iban", ""), bic=form.get("bic", ""))
        audit.record(store, "guest", "refund requested", f"card:{card_id}", request_id=result["request_id"],
                     amount=result["amount"])
        return card(request, card_id, message="Your refund request is received. The wristband is blocked until "
                                              "it is paid.", request_id=result["request_id"])

    return router
