"""The customer display: a page without a session, and the guest's own answer to the face consent."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from terminal.app.errors import TillError
from terminal.app.words import N_
from terminal.ui.display_token import HEADER, DisplayToken
from terminal.ui.routes.deps import TillDep
from terminal.ui.routes.pages import page

router = APIRouter()


class GuestConsentBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
    agreed: bool = False


def _token(request: Request) -> DisplayToken:
    return request.app.state.display_token  # type: ignore[no-any-return]


@router.get("/display")
def display(request: Request) -> Response:
    host = request.client.host if request.client else None
    return page("display", request, None, display_token=_token(request).for_client(host))


@router.post("/api/display/consent")
def display_consent(body: GuestConsentBody, request: Request, till: TillDep) -> dict[str, Any]:
    """The guest's own tap on the customer display (no operator session: the display's token instead)."""
    if not _token(request).accepts(request.headers.get(HEADER), request.client and request.client.host):
        raise TillError("display_only", till.tr(N_("Only the customer display can answer")), 403)
    return till.face_cashier.guest_answer(body.account_id, body.agreed)
