"""What a route gets from its request: the till, the admin desk, the operator's session (or a 401)."""

from typing import Annotated, Any

from fastapi import Depends, Request

from terminal.app.admin_desk import Admin
from terminal.app.errors import TillError
from terminal.app.session import Session
from terminal.app.till import Till
from terminal.app.words import N_
from terminal.money import AmountError, parse_amount

COOKIE = "stallpay_session"


def till_of(request: Request) -> Till:
    return request.app.state.terminal.kiosk  # type: ignore[no-any-return]


def admin_of(request: Request) -> Admin:
    return request.app.state.terminal.admin  # type: ignore[no-any-return]


def maybe_session(request: Request) -> Session | None:
    return till_of(request).login.current(request.cookies.get(COOKIE))


def session(request: Request) -> Session:
    found = maybe_session(request)
    if found is None:
        raise TillError("login", till_of(request).tr(N_("Please log in")), 401)
    return found


TillDep = Annotated[Till, Depends(till_of)]
AdminDep = Annotated[Admin, Depends(admin_of)]
Current = Annotated[Session, Depends(session)]
MaybeCurrent = Annotated[Session | None, Depends(maybe_session)]


def amount(till: Till, text: str) -> int:
    """A typed amount in minor units, or a 400 that says which text was wrong."""
    try:
        return parse_amount(text, till.currency)
    except AmountError as exc:
        raise TillError("bad_amount", till.tr(N_("Not a valid amount")) + f": {text[:16]}", 400) from exc


def ok(_: Any = None) -> dict[str, Any]:
    return {"ok": True}
