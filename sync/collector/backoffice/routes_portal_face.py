"""The guest portal for face accounts at /portal/face: account id and phone digits -> balance and history.
Rate-limited per client and per account like the card login; shows only the one account logged in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from sync.collector.backoffice import audit
from sync.collector.backoffice.face_payouts import face_refundable, freeze, open_requests, request_face_payout
from sync.collector.backoffice.payouts import PayoutError
from sync.collector.backoffice.portal_face import cookie_account, face_cookie, phone_ok
from sync.collector.backoffice.portal_session import SIGN_IN_AGAIN, PortalSession
from sync.collector.event import get_meta
from sync.collector.face import available, balances, get_account

FACE_COOKIE = "stallpay_guest_face"
FACE_LOGIN = "stallpay_guest_face_login"
KINDS = {"topup": "Top-up", "sale": "Purchase", "void": "Purchase cancelled", "refund": "Checkout",
         "hold": "Payment pending"}


def _account(form: FormData) -> str:
    return str(form.get("account") or "").strip()[:64]


def routes(web: Any, keys: Any) -> APIRouter:
    router = APIRouter(prefix="/portal/face")
    store = web.store
    session: PortalSession[str] = PortalSession(web, path="/portal/face", cookie=FACE_COOKIE, login_cookie=FACE_LOGIN,
                                                login_template="portal_face_login.html",
                                                csrf_salt="portal-face-csrf",
                                                guest_of=lambda cookie: cookie_account(store, cookie))
    login = session.login

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
                          csrf=session.csrf(request), **extra)

    @router.get("", include_in_schema=False)
    def get_face(request: Request) -> Response:
        return page(request, session.guest(request))

    @router.post("/block", include_in_schema=False)
    async def post_block(request: Request) -> Response:
        account_id, _form = await session.checked(request)
        if account_id is None:
            return login(request, SIGN_IN_AGAIN, 401)
        freeze(store, account_id)  # audited there
        return page(request, account_id, message="Your account is blocked. Nobody can pay with it any more.")

    @router.post("/refund", include_in_schema=False)
    async def post_refund(request: Request) -> Response:
        account_id, form = await session.checked(request)
        if account_id is None:
            return login(request, SIGN_IN_AGAIN, 401)
        try:
            result = request_face_payout(store, account_id, str(form.get("holder") or ""),
                                         str(form.get("iban") or ""), str(form.get("bic") or ""))
        except PayoutError as exc:
            return page(request, account_id, 422, error=str(exc), holder=form.get("holder", ""),
                        iban=form.get("iban", ""), bic=form.get("bic", ""))
        audit.record(store, "guest", "refund requested", f"face:{account_id}", request_id=result["request_id"],
                     amount=result["amount"])
        return page(request, account_id, message="Your refund request is received. The account is blocked until "
                                                 "it is paid.", request_id=result["request_id"])

    def cookie_for(form: FormData) -> str | None:
        account_id = _account(form)
        if not phone_ok(store, getattr(keys, "master_key", None), get_meta(store, "event_id") or "", account_id,
                        str(form.get("phone") or "")):
            return None
        return face_cookie(store, account_id)

    @router.post("/login", include_in_schema=False)
    async def post_login(request: Request) -> Response:
        return await session.sign_in(request, lambda form: f"face:{_account(form)}", cookie_for,
                                     "Account or phone digits not recognised. Check the account on your receipt.")

    @router.post("/logout", include_in_schema=False)
    def post_logout() -> Response:
        return session.sign_out()

    return router
