"""Terminals: sync state and clock skew, pairing codes with a QR, revoke, and a bundle for a USB stick."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.filter_bar import TERMINALS, read_bar
from sync.collector.bundle import build_bundle
from sync.collector.enrollment import ROLES, EnrollmentError, EventOver, get_terminal, new_pairing_code, revoke
from sync.collector.event import get_meta
from sync.collector.reports import sync_status
from sync.collector.storage import Store
from sync.collector.terminal_report import shown
from sync.format.bundle import encode_bundle

TerminalId = Annotated[int, Path(ge=1, le=65535)]


def qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")


def routes(web: Any, keys: Any) -> APIRouter:
    """`keys`: the event keys `collector serve` was started with (they sign bundles)."""
    router = APIRouter()
    store: Store = web.store

    def page(request: Request, status_code: int = 200, **extra: object) -> Response:
        bar = read_bar(request.query_params, store, TERMINALS)
        terminals = [{**t, "self_test": shown(t.get("self_test"))} for t in sync_status(store) if bar.keep(t)]
        return web.render(request, "terminals.html", status_code=422 if bar.error else status_code,
                          terminals=terminals, roles=ROLES, bar=bar, **extra)

    @web.route(router, "GET", "/terminals", "view")
    def get_terminals(request: Request) -> Response:
        return page(request)

    @web.route(router, "POST", "/terminals/pairing-code", "terminals.manage")
    async def post_code(request: Request) -> Response:
        form = await request.form()
        role, vendor = str(form.get("role") or "sale"), " ".join(str(form.get("vendor") or "").split())[:100]
        try:
            hours = float(str(form.get("hours") or "24"))
            if not 0 < hours <= 24 * 30:
                raise ValueError
            code = new_pairing_code(store, role=role, vendor=vendor, valid_hours=hours)
        except ValueError:
            return page(request, 422, error="validity must be between 0 and 720 hours")
        except EnrollmentError as exc:  # the event is over (409), or a refused role
            return page(request, 409 if isinstance(exc, EventOver) else 422, error=str(exc))
        audit.record(store, request.state.session.username, "pairing code created", f"pairing:{role}",
                     vendor=vendor, hours=hours)
        link = "stallpay://pair?" + urlencode({"collector": str(request.base_url).rstrip("/"), "code": code,
                                               "event": get_meta(store, "event_id") or ""})
        return page(request, code=code, code_role=role, code_vendor=vendor, qr=qr_svg(link), link=link)

    @web.route(router, "POST", "/terminals/{terminal_id}/revoke", "terminals.manage")
    def post_revoke(terminal_id: TerminalId, request: Request) -> Response:
        try:
            revoke(store, terminal_id)
        except EnrollmentError as exc:
            return page(request, 404, error=str(exc))
        audit.record(store, request.state.session.username, "terminal revoked", f"terminal:{terminal_id}")
        return RedirectResponse("/terminals", status_code=303)

    @web.route(router, "POST", "/terminals/{terminal_id}/venue", "terminals.manage")
    async def post_venue(terminal_id: TerminalId, request: Request) -> Response:
        venue = " ".join(str((await request.form()).get("venue") or "").split())[:100]
        if store.execute("UPDATE terminals SET venue = ? WHERE terminal_id = ?", [venue, terminal_id]) == 0:
            return page(request, 404, error=f"terminal {terminal_id} is not enrolled")
        audit.record(store, request.state.session.username, "terminal venue set", f"terminal:{terminal_id}",
                     venue=venue)
        return RedirectResponse("/terminals", status_code=303)

    @web.route(router, "GET", "/terminals/{terminal_id}/bundle", "terminals.manage")
    def get_bundle(terminal_id: TerminalId, request: Request) -> Response:
        if get_terminal(store, terminal_id) is None:
            return page(request, 404, error=f"terminal {terminal_id} is not enrolled")
        data = encode_bundle(build_bundle(store, keys, terminal_id=terminal_id))
        audit.record(store, request.state.session.username, "bundle downloaded", f"terminal:{terminal_id}")
        return Response(data, media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="bundle-t{terminal_id:05d}.json"'})

    return router
