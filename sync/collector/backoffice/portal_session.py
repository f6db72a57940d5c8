"""The sign-in shape both guest portals share (/portal for wristbands, /portal/face for face accounts): a
login form with its own one-time CSRF cookie, rate limits per client and per typed account, a signed guest
cookie for the one account signed in, and a per-page CSRF token derived from that cookie. Kept in one place so
the two portals cannot drift apart in how they refuse, limit and sign."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from sync.collector.backoffice.guest_access import RateLimiter
from sync.collector.backoffice.web import form_token_ok

Guest = TypeVar("Guest")

OUT_OF_DATE = "The form was out of date; please try again."
TOO_MANY = "Too many attempts. Please wait ten minutes and try again."
SIGN_IN_AGAIN = "Please sign in again."
GUEST_COOKIE_PATH = "/portal"  # both portals' guest cookies; each login cookie is scoped to its own portal


class PortalSession(Generic[Guest]):
    """One portal's login, rate limits, guest cookie and CSRF. `guest_of` turns a guest cookie into the account
    it was signed for (None when forged, expired or absent); it alone knows the cookie's format."""

    def __init__(self, web: Any, *, path: str, cookie: str, login_cookie: str, login_template: str, csrf_salt: str,
                 guest_of: Callable[[str | None], Guest | None]) -> None:
        self.web, self.path, self.cookie, self.login_cookie = web, path, cookie, login_cookie
        self.login_template, self.csrf_salt, self.guest_of = login_template, csrf_salt, guest_of
        self.per_client, self.per_account = RateLimiter(limit=10, window_s=600), RateLimiter(limit=5, window_s=600)

    def guest(self, request: Request) -> Guest | None:
        return self.guest_of(request.cookies.get(self.cookie))

    def csrf(self, request: Request) -> str:
        """The token a signed-in page's forms carry: bound to the guest cookie, so another cookie cannot post."""
        cookie = request.cookies.get(self.cookie, "")
        return hashlib.sha256(f"{self.csrf_salt}|{cookie}".encode()).hexdigest()[:32]

    def login(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(16)
        page = self.web.render(request, self.login_template, status_code=status, error=error, login_csrf=token)
        page.set_cookie(self.login_cookie, token, httponly=True, samesite="strict", path=self.path)
        return page

    async def checked(self, request: Request) -> tuple[Guest | None, dict]:
        """The guest for a POST with a matching CSRF token, else None; and the form as posted."""
        form = dict(await request.form())
        guest = self.guest(request)
        if guest is None or not hmac.compare_digest(str(form.get("csrf") or "").encode(), self.csrf(request).encode()):
            return None, form
        return guest, form

    async def sign_in(self, request: Request, limit_key: Callable[[FormData], str],
                      cookie_for: Callable[[FormData], str | None], refused: str) -> Response:
        """Check the login form's token, then the rate limits (per client, per `limit_key`), then the
        credentials (`cookie_for` answers the signed guest cookie, or None when they do not match)."""
        form = await request.form()
        if not form_token_ok(form, request.cookies.get(self.login_cookie)):
            return self.login(request, OUT_OF_DATE, 403)
        client = request.client.host if request.client else "?"
        if not self.per_client.allow(f"ip:{client}") or not self.per_account.allow(limit_key(form)):
            return self.login(request, TOO_MANY, 429)
        value = cookie_for(form)
        if value is None:
            return self.login(request, refused, 401)
        response = RedirectResponse(self.path, status_code=303)
        response.set_cookie(self.cookie, value, httponly=True, samesite="strict", path=GUEST_COOKIE_PATH,
                            secure=request.url.scheme == "https")
        return response

    def sign_out(self) -> Response:
        response = RedirectResponse(self.path, status_code=303)
        response.delete_cookie(self.cookie, path=GUEST_COOKIE_PATH)
        return response
