"""What every back-office route shares: templates per language, the logged-in session, CSRF, permissions.

A route is declared with `Web.route(router, method, path, permission)`: the permission is checked before
the route runs (no session: HTML pages redirect to the login, other answers are 401; wrong role: 403), a
POST also needs the session's CSRF token, and the route's permission is recorded in `Web.permissions`
so tests can walk every route and role.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from sync.collector.backoffice.accounts import Session, session_for
from sync.collector.backoffice.current_event import CurrentStore
from sync.collector.backoffice.filter_bar import NAMES as BAR_FIELDS
from sync.collector.backoffice.language import LANGUAGES, gettext, money, pick_language
from sync.collector.backoffice.permissions import allowed
from sync.collector.event import get_meta
from sync.collector.event_registry import EventStores
from sync.collector.http_limits import holds_nul
from sync.collector.storage import Store

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_COOKIE = "stallpay_office"
LANGUAGE_COOKIE = "stallpay_lang"


def form_token_ok(form: object, expected: str | None) -> bool:
    """A form's `csrf` field equals the token the page was given (a cookie or the session's)."""
    sent = str(getattr(form, "get", lambda _k: "")("csrf") or "")
    return bool(expected) and hmac.compare_digest(sent.encode(), (expected or "").encode())


class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login, other answers are 401 with nothing else."""


class Forbidden(Exception):
    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadForm(Forbidden):
    """A form no browser sends (a NUL in a field: PostgreSQL text cannot hold one); refused before any route runs."""

    status = 422


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda m: gettext(language, m), lambda s, p, n: gettext(language, s if n == 1 else p), newstyle=False)
    env.globals.update(language=language, languages=LANGUAGES)
    env.filters["when"] = when
    return env


def when(value: object) -> object:
    """A stored ISO-8601 moment as an organizer reads it, in UTC ("2026-12-06 23:19:59 UTC"); anything that is not
    one is shown as it is (a terminal's own clock may have written something odd: shown, not hidden)."""
    if not isinstance(value, str) or len(value) < 19 or value[10] != "T":
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Web:
    def __init__(self, events: EventStores) -> None:
        self.events = events
        self.home: Store = events.home  # accounts, sessions, audit log
        self.store: Store = CurrentStore(events)  # type: ignore[assignment]  # the request's event
        self.permissions: dict[tuple[str, str], str] = {}

    @property
    def currency(self) -> str:
        return get_meta(self.store, "currency") or "EUR"

    def event_label(self) -> str:
        name = get_meta(self.store, "name") or ""
        event_id = get_meta(self.store, "event_id") or ""
        return f"{name} ({event_id})" if name else event_id

    def language(self, request: Request) -> str:
        return pick_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        language = self.language(request)
        currency = self.currency
        session: Session | None = getattr(request.state, "session", None)
        page = environment(language).get_template(template).render(
            request=request, session=session, currency=currency, event_id=get_meta(self.store, "event_id"),
            money=lambda amount: money(amount, currency, language), can=lambda p: bool(
                session and allowed(session.role, p)), path=request.url.path, events=self.events.list(),
            format_money=lambda amount, cur: money(amount, cur, language),
            **context)
        return HTMLResponse(page, status_code=status_code)

    def guard(self, permission: str, *, csrf: bool) -> Callable[..., Any]:
        async def check(request: Request) -> Session:
            session = session_for(self.home, request.cookies.get(SESSION_COOKIE))
            if session is None:
                raise NotLoggedIn()
            request.state.session = session
            # the filter bar's fields are refused by the bar, in its own words; any other text of the address here
            if any(holds_nul(v) for k, v in (*request.query_params.items(), *request.path_params.items())
                   if k not in BAR_FIELDS):
                raise BadForm("the address holds a NUL character; nothing was shown or changed")
            if csrf:
                form = await request.form()
                sent = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
                if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                    raise Forbidden("the form was out of date or not sent from this back office; reload the page")
                if any(map(holds_nul, form.values())):
                    raise BadForm("a field of the form holds a NUL character; nothing was changed")
            if not allowed(session.role, permission):
                raise Forbidden(f"your role ({session.role}) may not do this")
            return session
        return check

    def route(self, router: APIRouter, method: str, path: str, permission: str,
              **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            self.permissions[(method, path)] = permission
            router.add_api_route(path, func, methods=[method], include_in_schema=False,
                                 dependencies=[Depends(self.guard(permission, csrf=method == "POST"))], **kwargs)
            return func
        return register
