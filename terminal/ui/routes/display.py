"""The customer display: a page without a session, and the guest's own answer to the face consent."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from terminal.ui.routes.deps import TillDep
from terminal.ui.routes.pages import page

router = APIRouter()


class GuestConsentBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
    agreed: bool = False


@router.get("/display")
def display(request: Request) -> Response:
    return page("display", request, None)


@router.post("/api/display/consent")
def display_consent(body: GuestConsentBody, till: TillDep) -> dict[str, Any]:
    """The guest's own tap on the customer display (no operator session: the display has none)."""
    return till.face_cashier.guest_answer(body.account_id, body.agreed)
