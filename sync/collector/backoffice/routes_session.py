"""Login, logout, language, accounts and the audit log."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.accounts import (
    OFFICE_ROLES,
    LoginRefused,
    accounts,
    log_in,
    log_out,
    new_token,
    save_account,
    unlock,
)
from sync.collector.backoffice.filter_bar import AUDIT, DAYS_OF_AUDIT, read_bar
from sync.collector.backoffice.language import LANGUAGES
from sync.collector.backoffice.web import LANGUAGE_COOKIE, SESSION_COOKIE, Web, form_token_ok

LOGIN_CSRF_COOKIE = "stallpay_login"


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    store = web.home

    def login_page(request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(16)
        page = web.render(request, "login.html", status_code=status, error=error, login_csrf=token,
                          next=_safe_next(request.query_params.get("next")))
        page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
        return page

    @router.get("/login", include_in_schema=False)
    def get_login(request: Request) -> Response:
        return login_page(request)

    @router.post("/login", include_in_schema=False)
    async def post_login(request: Request) -> Response:
        form = await request.form()
        if not form_token_ok(form, request.cookies.get(LOGIN_CSRF_COOKIE)):
            return login_page(request, "The login form was out of date; please try again.", 403)
        username = str(form.get("username") or "").strip()
        try:
            cookie, session = log_in(store, username, str(form.get("password") or ""))
        except LoginRefused as exc:
            audit.record(store, username or "?", "login refused", f"user:{username}", reason=str(exc))
            return login_page(request, str(exc), 401)
        audit.record(store, session.username, "login", f"user:{session.username}")
        response = RedirectResponse(_safe_next(str(form.get("next") or "/")), status_code=303)
        response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @web.route(router, "POST", "/logout", "view")
    def post_logout(request: Request) -> Response:
        log_out(store, request.cookies.get(SESSION_COOKIE))
        audit.record(store, request.state.session.username, "logout", f"user:{request.state.session.username}")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/language/{code}", include_in_schema=False)
    def set_language(code: str, request: Request) -> Response:
        back = request.headers.get("referer") or "/"
        response = RedirectResponse(back if back.startswith(str(request.base_url)) else "/", status_code=303)
        if code in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, code, samesite="lax", path="/", max_age=3600 * 24 * 365)
        return response

    @web.route(router, "GET", "/accounts", "accounts.manage")
    def get_accounts(request: Request) -> Response:
        listed = accounts(store)
        saved = request.query_params.get("saved", "")  # named only if it is an account: a link adds no words
        known = any(a["username"] == saved for a in listed)
        return web.render(request, "accounts.html", accounts=listed, roles=OFFICE_ROLES,
                          message="Account saved:" if known else "", message_ref=saved if known else "")

    @web.route(router, "POST", "/accounts", "accounts.manage")
    async def post_account(request: Request) -> Response:
        form = await request.form()
        username, role = str(form.get("username") or "").strip(), str(form.get("role") or "")
        try:
            save_account(store, username, str(form.get("password") or ""), role)
        except ValueError as exc:
            return web.render(request, "accounts.html", status_code=422, accounts=accounts(store),
                              roles=OFFICE_ROLES, error=str(exc))
        audit.record(store, request.state.session.username, "account saved", f"user:{username}", role=role)
        return RedirectResponse(f"/accounts?{urlencode({'saved': username})}", status_code=303)

    @web.route(router, "POST", "/accounts/{username}/unlock", "accounts.manage")
    def post_unlock(username: str, request: Request) -> Response:
        if unlock(store, username):
            audit.record(store, request.state.session.username, "account unlocked", f"user:{username}")
        return RedirectResponse("/accounts", status_code=303)

    @web.route(router, "POST", "/accounts/{username}/token", "accounts.manage")
    async def post_token(username: str, request: Request) -> Response:
        form = await request.form()
        if not any(a["username"] == username for a in accounts(store)):
            return RedirectResponse("/accounts", status_code=303)
        token = new_token(store, username, str(form.get("name") or "script"))
        audit.record(store, request.state.session.username, "API token created", f"user:{username}")
        return web.render(request, "accounts.html", accounts=accounts(store), roles=OFFICE_ROLES,
                          token=token, token_user=username)

    @web.route(router, "GET", "/audit", "audit.view")
    def get_audit(request: Request) -> Response:
        home = getattr(store, "office_store", store)
        bar = read_bar(request.query_params, store, AUDIT, audit_store=home, days_sql=DAYS_OF_AUDIT)
        return web.render(request, "audit.html", status_code=422 if bar.error else 200, bar=bar,
                          entries=audit.entries(store, day=bar.filters.day, who=bar.who))

    return router
