"""Terminal operators managed centrally: add with a role, vendor and PIN, disable, enable, new PIN.

Terminals get the list in their next bundle (sync.collector.central_operators); PINs are hashed at once and never
shown, logged or audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.central_operators import ROLES, OperatorError, add_operator, list_operators, set_pin, set_status
from sync.collector.storage import Store

OperatorId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,16}$")]


def routes(web: Any) -> APIRouter:
    router = APIRouter()
    store: Store = web.store

    def page(request: Request, status_code: int = 200, **extra: object) -> Response:
        return web.render(request, "operators.html", status_code=status_code, operators=list_operators(store),
                          roles=ROLES, **extra)

    @web.route(router, "GET", "/operators", "view")
    def get_operators(request: Request) -> Response:
        return page(request)

    @web.route(router, "POST", "/operators", "operators.manage")
    async def post_operator(request: Request) -> Response:
        form = await request.form()
        op_id = str(form.get("operator_id") or "").strip()
        try:
            op = add_operator(store, op_id, str(form.get("name") or ""), str(form.get("role") or ""),
                              str(form.get("vendor") or ""), str(form.get("pin") or ""))
        except OperatorError as exc:
            return page(request, 422, error=str(exc))
        audit.record(store, request.state.session.username, "operator added", f"operator:{op_id}",
                     role=op["role"], vendor=op["vendor"])
        return page(request, message="Operator added. Terminals get it at their next sync.")

    def change(request: Request, op_id: str, status: str) -> Response:
        try:
            set_status(store, op_id, status)
        except OperatorError as exc:
            return page(request, 404, error=str(exc))
        audit.record(store, request.state.session.username, f"operator {status}", f"operator:{op_id}")
        return RedirectResponse("/operators", status_code=303)

    @web.route(router, "POST", "/operators/{operator_id}/disable", "operators.manage")
    def post_disable(operator_id: OperatorId, request: Request) -> Response:
        return change(request, operator_id, "disabled")

    @web.route(router, "POST", "/operators/{operator_id}/enable", "operators.manage")
    def post_enable(operator_id: OperatorId, request: Request) -> Response:
        return change(request, operator_id, "active")

    @web.route(router, "POST", "/operators/{operator_id}/pin", "operators.manage")
    async def post_pin(operator_id: OperatorId, request: Request) -> Response:
        form = await request.form()
        try:
            set_pin(store, operator_id, str(form.get("pin") or ""))
        except OperatorError as exc:
            return page(request, 422 if "PIN" in str(exc) else 404, error=str(exc))
        audit.record(store, request.state.session.username, "operator PIN set", f"operator:{operator_id}")
        return RedirectResponse("/operators", status_code=303)

    return router
