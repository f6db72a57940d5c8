"""The guest portal at /portal: public, separate from the back office (own cookie, no office session),
rate-limited. A guest sees only the one card whose printed id and secret they typed."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.cards import card_page, known_card
from sync.collector.backoffice.guest_access import RateLimiter, cookie_card, guest_cookie, secret_matches
from sync.collector.backoffice.payouts import PayoutError, request_payout
from sync.collector.backoffice.web import Web, form_token_ok
from sync.collector.ledger import block_card

PORTAL_COOKIE = "stallpay_guest"
PORTAL_LOGIN = "stallpay_guest_login"
GUEST_OPS = {"issue": "Wristband issued", "topup": "Top-up", "sale": "Purchase", "void": "Purchase cancelled",
             "close": "Checkout", "replace": "Moved from a lost band", "correct": "Correction"}


def _csrf(cookie: str) -> str:
    return hashlib.sha256(f"portal-csrf|{cookie}".encode()).hexdigest()[:32]


def routes(web: Web) -> APIRouter:
    router = APIRouter(prefix="/portal")
    store = web.store
    per_client, per_card = RateLimiter(limit=10, window_s=600), RateLimiter(limit=5, window_s=600)

    def login(request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(16)
        page = web.render(request, "portal_login.html", status_code=status, error=error, login_csrf=token)
        page.set_cookie(PORTAL_LOGIN, token, httponly=True, samesite="strict", path="/portal")
        return page

    def guest(request: Request) -> int | None:
        return cookie_card(store, request.cookies.get(PORTAL_COOKIE))

    def card(request: Request, card_id: int, status: int = 200, **extra: object) -> Response:
        data = card_page(store, card_id)
        if data is None:
            return login(request)
        history = [h for h in data["history"] if h["phase"] == "commit"]
        return web.render(request, "portal_card.html", status_code=status, c=data, history=history, ops=GUEST_OPS,
                          csrf=_csrf(request.cookies.get(PORTAL_COOKIE, "")), **extra)

    async def checked(request: Request) -> tuple[int | None, dict]:
        """The guest's card for a POST with a matching CSRF token, else None."""
        form = dict(await request.form())
        card_id, cookie = guest(request), request.cookies.get(PORTAL_COOKIE, "")
        if card_id is None or not hmac.compare_digest(str(form.get("csrf") or "").encode(), _csrf(cookie).encode()):
            return None, form
        return card_id, form

    @router.get("", include_in_schema=False)
    def get_portal(request: Request) -> Response:
        card_id = guest(request)
        return card(request, card_id) if card_id is not None else login(request)

    @router.post("/login", include_in_schema=False)
    async def post_login(request: Request) -> Response:
        form = await request.form()
        if not form_token_ok(form, request.cookies.get(PORTAL_LOGIN)):
            return login(request, "The form was out of date; please try again.", 403)
        typed = "".join(str(form.get("card") or "").split()).replace("-", "")
        client = request.client.host if request.client else "?"
        if not per_client.allow(f"ip:{client}") or not per_card.allow(f"card:{typed[:20]}"):
            return login(request, "Too many attempts. Please wait ten minutes and try again.", 429)
        if not typed.isdigit() or len(typed) > 19 or not known_card(store, int(typed)) or not secret_matches(
                store, int(typed), str(form.get("secret") or "")):
            return login(request, "Card number or secret code not recognised. Check both on your wristband "
                                  "or receipt.", 401)
        response = RedirectResponse("/portal", status_code=303)
        response.set_cookie(PORTAL_COOKIE, guest_cookie(store, int(typed)), httponly=True, samesite="strict",
                            path="/portal", secure=request.url.scheme == "https")
        return response

    @router.post("/logout", include_in_schema=False)
    def post_logout() -> Response:
        response = RedirectResponse("/portal", status_code=303)
        response.delete_cookie(PORTAL_COOKIE, path="/portal")
        return response

    @router.post("/block", include_in_schema=False)
    async def post_block(request: Request) -> Response:
        card_id, _form = await checked(request)
        if card_id is None:
            return login(request, "Please sign in again.", 401)
        block_card(store, card_id, "lost (reported by the guest)", source="portal")
        audit.record(store, "guest", "card blocked", f"card:{card_id}", reason="lost (portal)")
        return card(request, card_id, message="Your wristband is blocked. Nobody can pay with it any more.")

    @router.post("/refund", include_in_schema=False)
    async def post_refund(request: Request) -> Response:
        card_id, form = await checked(request)
        if card_id is None:
            return login(request, "Please sign in again.", 401)
        try:
            result = request_payout(store, card_id, str(form.get("holder") or ""), str(form.get("iban") or ""),
                                    str(form.get("bic") or ""))
        except PayoutError as exc:
            return card(request, card_id, 422, error=str(exc), holder=form.get("holder", ""),
                        iban=form.get("iban", ""))
        audit.record(store, "guest", "refund requested", f"card:{card_id}", request_id=result["request_id"],
                     amount=result["amount"])
        return card(request, card_id, message="Your refund request is received. The wristband is blocked until "
                                              "it is paid.", request_id=result["request_id"])

    return router
