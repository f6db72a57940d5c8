"""The guest portal for face accounts at /portal/face: account id and phone digits -> balance and history.
Rate-limited per client and per account like the card login; shows only the one account logged in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.face_payouts import face_refundable, freeze, open_requests, request_face_payout
from sync.collector.backoffice.guest_access import RateLimiter
from sync.collector.backoffice.payouts import PayoutError
from sync.collector.backoffice.portal_face import cookie_account, face_cookie, phone_ok
from sync.collector.backoffice.web import form_token_ok
from sync.collector.event import get_meta
from sync.collector.face import available, balances, get_account

FACE_COOKIE = "stallpay_guest_face"
FACE_LOGIN = "stallpay_guest_face_login"
KINDS = {"topup": "Top-up", "sale": "Purchase", "void": "Purchase cancelled", "refund": "Checkout",
         "hold": "Payment pending"}


def _csrf(cookie: str) -> str:
    return hashlib.sha256(f"portal-face-csrf|{cookie}".encode()).hexdigest()[:32]


def routes(web: Any, keys: Any) -> APIRouter:
    router = APIRouter(prefix="/portal/face")
    store = web.store
    per_client, per_account = RateLimiter(limit=10, window_s=600), RateLimiter(limit=5, window_s=600)

    def login(request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(16)
        page = web.render(request, "portal_face_login.html", status_code=status, error=error, login_csrf=token)
        page.set_cookie(FACE_LOGIN, token, httponly=True, samesite="strict", path="/portal/face")
        return page

    def page(request: Request, account_id: str | None, status: int = 200, **extra: object) -> Response:
        account = get_account(store, account_id) if account_id else None
        if account is None or account_id is None:
            return login(request)
        history = store.query("SELECT kind, amount, time, settled FROM face_ledger WHERE account_id = ? "
                              "AND (kind <> 'hold' OR settled = 0) ORDER BY time, entry_key", [account_id])
        return web.render(request, "portal_face.html", status_code=status, account=account,
                          balance=balances(store, [account_id]).get(account_id, 0),
                          available=available(store, account_id), history=history, kinds=KINDS,
                          refundable=face_refundable(store, account_id), payouts=open_requests(store, account_id),
                          csrf=_csrf(request.cookies.get(FACE_COOKIE, "")), **extra)

    async def checked(request: Request) -> tuple[str | None, dict]:
        """The guest's account for a POST with a matching CSRF token, else None."""
        form = dict(await request.form())
        cookie = request.cookies.get(FACE_COOKIE, "")
        account_id = cookie_account(store, cookie)
        if account_id is None or not hmac.compare_digest(str(form.get("csrf") or "").encode(),
                                                         _csrf(cookie).encode()):
            return None, form
        return account_id, form

    @router.get("", include_in_schema=False)
    def get_face(request: Request) -> Response:
        return page(request, cookie_account(store, request.cookies.get(FACE_COOKIE)))

    @router.post("/block", include_in_schema=False)
    async def post_block(request: Request) -> Response:
        account_id, _form = await checked(request)
        if account_id is None:
            return login(request, "Please sign in again.", 401)
        if freeze(store, account_id):
            audit.record(store, "guest", "face account frozen", f"face:{account_id}", reason="lost (portal)")
        return page(request, account_id, message="Your account is blocked. Nobody can pay with it any more.")

    @router.post("/refund", include_in_schema=False)
    async def post_refund(request: Request) -> Response:
        account_id, form = await checked(request)
        if account_id is None:
            return login(request, "Please sign in again.", 401)
        try:
            result = request_face_payout(store, account_id, str(form.get("holder") or ""),
                                         str(form.get("iban") or ""), str(form.get("bic") or ""))
        except PayoutError as exc:
            return page(request, account_id, 422, error=str(exc), holder=form.get("holder", ""),
                        iban=form.get("iban", ""))
        audit.record(store, "guest", "refund requested", f"face:{account_id}", request_id=result["request_id"],
                     amount=result["amount"])
        return page(request, account_id, message="Your refund request is received. The account is blocked until "
                                                 "it is paid.", request_id=result["request_id"])

    @router.post("/login", include_in_schema=False)
    async def post_login(request: Request) -> Response:
        form = await request.form()
        if not form_token_ok(form, request.cookies.get(FACE_LOGIN)):
            return login(request, "The form was out of date; please try again.", 403)
        account_id = str(form.get("account") or "").strip()[:64]
        client = request.client.host if request.client else "?"
        if not per_client.allow(f"ip:{client}") or not per_account.allow(f"face:{account_id}"):
            return login(request, "Too many attempts. Please wait ten minutes and try again.", 429)
        if not phone_ok(store, getattr(keys, "master_key", None), get_meta(store, "event_id") or "", account_id,
                        str(form.get("phone") or "")):
            return login(request, "Account or phone digits not recognised. Check the account on your receipt.", 401)
        response = RedirectResponse("/portal/face", status_code=303)
        response.set_cookie(FACE_COOKIE, face_cookie(store, account_id), httponly=True, samesite="strict",
                            path="/portal", secure=request.url.scheme == "https")
        return response

    @router.post("/logout", include_in_schema=False)
    def post_logout() -> Response:
        response = RedirectResponse("/portal/face", status_code=303)
        response.delete_cookie(FACE_COOKIE, path="/portal")
        return response

    return router
