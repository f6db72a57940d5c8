"""Refund requests from the portal: finance approves or rejects, exports SEPA XML, marks a file paid."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.payouts import (
    PayoutError,
    debtor,
    decide,
    export_sepa,
    exports,
    mark_paid,
    payouts,
    set_debtor,
    stored_file,
)
from sync.collector.backoffice.web import Web

RequestId = Annotated[str, Path(pattern="^PR[0-9A-F]{16}$")]
ExportId = Annotated[str, Path(pattern="^SP[0-9A-F]{20}$")]


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    store = web.store

    def page(request: Request, status_code: int = 200, **extra: object) -> Response:
        extra.setdefault("exports", exports(store))
        return web.render(request, "payouts.html", status_code=status_code, requests=payouts(store),
                          debtor=debtor(store), **extra)

    @web.route(router, "GET", "/payouts", "payouts.view")
    def get_payouts(request: Request) -> Response:
        # after "Mark paid" the page names the file; only a file that is paid is named, so a link cannot put
        # words of its own into the notice
        paid, files = request.query_params.get("paid", ""), exports(store)
        if any(e["export_id"] == paid and e["status"] == "paid" for e in files):
            return page(request, message="SEPA file marked paid. Its refunds are closed in the books:",
                        message_ref=paid, exports=files)
        return page(request, exports=files)

    @web.route(router, "POST", "/payouts/debtor", "payouts.approve")
    async def post_debtor(request: Request) -> Response:
        form = await request.form()
        try:
            value = set_debtor(store, str(form.get("name") or ""), str(form.get("iban") or ""),
                               str(form.get("bic") or ""))
        except PayoutError as exc:
            return page(request, 422, error=str(exc))
        audit.record(store, request.state.session.username, "SEPA account set", "payouts", **value)
        return RedirectResponse("/payouts", status_code=303)

    async def decision(request: Request, request_id: str, approve: bool) -> Response:
        try:
            result = decide(store, request_id, approve=approve, by=request.state.session.username)
        except PayoutError as exc:
            return page(request, 409, error=str(exc))
        audit.record(store, request.state.session.username, f"refund {result['status']}", f"payout:{request_id}",
                     amount=result["amount"])
        return RedirectResponse("/payouts", status_code=303)

    @web.route(router, "POST", "/payouts/{request_id}/approve", "payouts.approve")
    async def post_approve(request_id: RequestId, request: Request) -> Response:
        return await decision(request, request_id, True)

    @web.route(router, "POST", "/payouts/{request_id}/reject", "payouts.approve")
    async def post_reject(request_id: RequestId, request: Request) -> Response:
        return await decision(request, request_id, False)

    @web.route(router, "POST", "/payouts/export", "payouts.approve")
    def post_export(request: Request) -> Response:
        try:
            export_id, xml = export_sepa(store, by=request.state.session.username)
        except PayoutError as exc:
            return page(request, 409, error=str(exc))
        audit.record(store, request.state.session.username, "SEPA file exported", f"export:{export_id}")
        return Response(xml, media_type="application/xml",
                        headers={"Content-Disposition": f'attachment; filename="{export_id}.xml"'})

    @web.route(router, "GET", "/payouts/exports/{export_id}/xml", "payouts.approve")
    def get_file(export_id: ExportId, request: Request) -> Response:
        try:
            xml = stored_file(store, export_id)
        except PayoutError as exc:
            return page(request, 409, error=str(exc))
        if xml is None:
            return page(request, 404, error=f"no stored file {export_id}")
        audit.record(store, request.state.session.username, "SEPA file downloaded", f"export:{export_id}")
        return Response(xml, media_type="application/xml",
                        headers={"Content-Disposition": f'attachment; filename="{export_id}.xml"'})

    @web.route(router, "POST", "/payouts/exports/{export_id}/paid", "payouts.approve")
    def post_paid(export_id: ExportId, request: Request) -> Response:
        try:
            done = mark_paid(store, export_id, by=request.state.session.username)
        except PayoutError as exc:
            return page(request, 409, error=str(exc))
        audit.record(store, request.state.session.username, "SEPA file paid", f"export:{export_id}",
                     refunds=len(done), total=sum(d["paid"] for d in done))
        return RedirectResponse(f"/payouts?paid={export_id}", status_code=303)

    return router
