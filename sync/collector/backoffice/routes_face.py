"""Face accounts in the back office: list with balances and holds, erasures pending per terminal, consent
records; the support desk asks for a guest's template to be erased (every terminal drops it at its next sync) and
freezes or unfreezes an account (`sync.collector.face_freeze`: terminals decline it from their next bundle)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.face_views import accounts, consents, erasures
from sync.collector.face import FaceError, erase_account, get_account
from sync.collector.face_freeze import set_frozen
from sync.collector.storage import Store

AccountId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def routes(web: Any) -> APIRouter:
    router = APIRouter()
    store: Store = web.store

    def page(request: Request, status_code: int = 200, **extra: object) -> Response:
        return web.render(request, "face.html", status_code=status_code, accounts=accounts(store),
                          erasures=erasures(store), consents=consents(store), **extra)

    @web.route(router, "GET", "/face", "view")
    def get_face(request: Request) -> Response:
        return page(request)

    @web.route(router, "POST", "/face/{account_id}/erase", "face.erase")
    async def post_erase(account_id: AccountId, request: Request) -> Response:
        reason = " ".join(str((await request.form()).get("reason") or "").split())[:200]
        if get_account(store, account_id) is None:
            return page(request, 404, error=f"no face account {account_id}")
        if len(reason) < 3:
            return page(request, 422, error="say why the template is erased (e.g. the guest asked)")
        user = request.state.session.username
        change = erase_account(store, account_id, reason, by=f"office:{user}")
        audit.record(store, user, "face template erasure requested", f"face:{account_id}", reason=reason,
                     change=change)
        return RedirectResponse("/face", status_code=303)

    async def change_frozen(account_id: str, request: Request, frozen: bool) -> Response:
        reason = " ".join(str((await request.form()).get("reason") or "").split())[:200]
        if get_account(store, account_id) is None:
            return page(request, 404, error=f"no face account {account_id}")
        try:
            set_frozen(store, account_id, frozen, by=request.state.session.username, reason=reason)
        except FaceError as exc:  # already so, or closed
            return page(request, 409, error=str(exc))
        return RedirectResponse("/face", status_code=303)

    @web.route(router, "POST", "/face/{account_id}/freeze", "face.freeze")
    async def post_freeze(account_id: AccountId, request: Request) -> Response:
        return await change_frozen(account_id, request, True)

    @web.route(router, "POST", "/face/{account_id}/unfreeze", "face.freeze")
    async def post_unfreeze(account_id: AccountId, request: Request) -> Response:
        return await change_frozen(account_id, request, False)

    return router
