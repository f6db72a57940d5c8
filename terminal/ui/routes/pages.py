"""The HTML screens (login, sale, cashier, admin, report, receipts) and how a page is rendered."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from terminal.app.errors import TillError
from terminal.app.permissions import Permission
from terminal.app.session import Session
from terminal.app.till import Till
from terminal.money import to_decimal
from terminal.ui.i18n import LANGUAGE_NAMES, environment, money
from terminal.ui.routes.deps import Current, MaybeCurrent, TillDep, till_of

router = APIRouter()


def page(name: str, request: Request, current: Session | None, **context: Any) -> HTMLResponse:
    terminal = request.app.state.terminal
    till: Till = terminal.kiosk
    env = environment(till.language)
    ctx = {"kiosk": till, "admin": terminal.admin, "session": current, "lang": till.language,
           "languages": LANGUAGE_NAMES, "money": lambda a: money(a, till.currency, till.language),
           "price_text": lambda a: str(to_decimal(a, till.currency)), "demo": till.demo,
           "simulator": terminal.simulator, "page": name, "Permission": Permission, "now": time.time(), **context}
    return HTMLResponse(env.get_template(f"{name}.html").render(ctx))


def screen(name: str, permission: Permission | None = None) -> Callable[..., Response]:
    def handler(request: Request, current: MaybeCurrent) -> Response:
        if current is None:
            return RedirectResponse("/login", status_code=303)
        if permission is not None and not current.may(permission):
            return RedirectResponse("/", status_code=303)
        return page(name, request, current)
    return handler


@router.get("/", include_in_schema=False)
def home(current: MaybeCurrent, till: TillDep) -> Response:
    if current is None:
        return RedirectResponse("/login", status_code=303)
    if till.mode == "cashier" and current.may(Permission.TOPUP):
        return RedirectResponse("/cashier", status_code=303)
    if current.may(Permission.SELL):
        return RedirectResponse("/sale", status_code=303)
    return RedirectResponse("/admin", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    return page("login", request, None)


router.get("/sale")(screen("sale", Permission.SELL))
router.get("/cashier")(screen("cashier", Permission.TOPUP))
router.get("/admin")(screen("admin"))
router.get("/report")(screen("report", Permission.REPORT))


@router.get("/receipts")
def receipts(request: Request, current: Current) -> Response:
    return page("receipts", request, current, files=_receipt_files(till_of(request)))


@router.get("/receipts/{name}")
def receipt_file(name: str, current: Current, till: TillDep) -> Response:
    files = {p.name: p for p in _receipt_files(till)}
    if name not in files:
        raise TillError("not_found", "no such receipt", 404)
    return Response(files[name].read_bytes(), media_type="image/png")


@router.get("/report.png")
def report_png(current: Current, till: TillDep) -> Response:
    return Response(till.receipts.report_png(current), media_type="image/png")


def _receipt_files(till: Till) -> list[Path]:
    folder = till.config.data_dir / "receipts"
    return sorted(folder.glob("*.png"), reverse=True)[:60] if folder.is_dir() else []
