"""The cashier's card desk: a lost card reported, a lost band replaced, a refund confirmed on screen.

The till does the work (`Payments.start`, `CardDesk`); a replacement's money comes from the old band read at
this desk, else from the collector's quote.
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from terminal.app.card_desk import CardDeskError, ReplacementSource, printed_id
from terminal.app.errors import TillError
from terminal.app.permissions import Permission
from terminal.app.till import Till
from terminal.ui.i18n import N_
from terminal.ui.routes.deps import Current, TillDep

router = APIRouter()
CARD = Field(ge=1, le=2**62)


class LostBody(BaseModel):
    card: int = CARD
    reason: str = Field(default="lost", max_length=60)


class ReplaceBody(BaseModel):
    card: int = CARD
    request_id: str = Field(min_length=1, max_length=64)


class RefundBody(BaseModel):
    card: int = CARD
    amount: int = Field(ge=0, le=10**9)  # minor units, as the balance overlay showed them
    request_id: str = Field(min_length=1, max_length=64)


@router.post("/api/cards/lost")
def report_lost(body: LostBody, current: Current, till: TillDep) -> dict[str, Any]:
    """The guest reports a lost card at the desk: refused here now, at every stall after its next sync."""
    till.require(current, Permission.ISSUE)
    try:
        till.card_desk.report_lost(body.card, operator=current.operator, reason=body.reason)
    except CardDeskError as exc:
        raise TillError(exc.code, exc.message, 400) from None
    till.publish()
    text = till.tr(N_("Card %(id)s is blocked here; every stall refuses it after its next sync"))
    return {"card_id": body.card, "printed_id": printed_id(body.card), "text": text % {"id": printed_id(body.card)}}


@router.post("/api/cards/replace")
def replace(body: ReplaceBody, current: Current, till: TillDep) -> dict[str, Any]:
    """Arm the replacement of a lost band; the next blank band tapped receives its money."""
    till.require(current, Permission.ISSUE)
    source = till.card_desk.from_band(body.card) or _quote(till, body.card)
    till.payments.start(current, "replace", body.request_id, amount=source.balance, card_ref=source.card_id,
                        comp=source.comp)
    return {"card_id": source.card_id, "balance": source.balance, "comp": source.comp, "source": source.source,
            "balance_fmt": till.money(source.balance), "comp_fmt": till.money(source.comp)}


@router.post("/api/cards/statement")
def statement(current: Current, till: TillDep) -> dict[str, Any]:
    """Print the statement of the band on the balance screen (history, balance, holder)."""
    from terminal.app.card_view import print_statement

    return print_statement(till)


@router.post("/api/cards/refund")
def refund(body: RefundBody, current: Current, till: TillDep) -> dict[str, Any]:
    """Close and pay out the amount the screen showed for this band; the tap must be that band, that amount."""
    return {"started": till.payments.start(current, "close", body.request_id, amount=body.amount, method="cash",
                                           card_ref=body.card)}


def _quote(till: Till, card_id: int) -> ReplacementSource:
    from terminal.uplink.client import SyncFailed

    client = till.collector
    if client is None:
        raise TillError("no_source", till.tr(N_("Tap the old wristband first (no collector to ask)")), 409)
    try:
        quote = client.replacement_quote(card_id)
    except SyncFailed as exc:
        message = till.tr(N_("Tap the old wristband first: the collector cannot quote it"))
        raise TillError("no_source", f"{message} ({exc})", 409) from None
    return ReplacementSource(int(quote["card_id"]), int(quote["balance"]), int(quote["comp"]), "collector")
