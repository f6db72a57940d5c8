"""Routes of the cashier's card desk: a lost card reported, a lost band replaced, a refund confirmed on screen.

Kept out of server.py so that file stays the kiosk's core; the kiosk does the work (`Kiosk.start`, `CardDesk`).
No `from __future__ import annotations` here: FastAPI resolves the local `Current` alias at definition time.
"""


from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, Field

from terminal.app import Permission, Session
from terminal.app.card_desk import CardDeskError, ReplacementSource, printed_id
from terminal.ui.i18n import N_
from terminal.ui.kiosk import Kiosk, KioskError

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


def register(app: FastAPI, kiosk: Kiosk, session: Callable[[Request], Session]) -> None:
    Current = Annotated[Session, Depends(session)]

    @app.post("/api/cards/lost")
    def report_lost(body: LostBody, current: Current) -> dict[str, Any]:
        """The guest reports a lost card at the desk: refused here now, at every stall after its next sync."""
        kiosk.require(current, Permission.ISSUE)
        try:
            kiosk.card_desk.report_lost(body.card, operator=current.operator, reason=body.reason)
        except CardDeskError as exc:
            raise KioskError(exc.code, exc.message, 400) from None
        kiosk.publish()
        text = kiosk.tr(N_("Card %(id)s is blocked here; every stall refuses it after its next sync"))
        return {"card_id": body.card, "printed_id": printed_id(body.card), "text": text % {"id": printed_id(body.card)}}

    @app.post("/api/cards/replace")
    def replace(body: ReplaceBody, current: Current) -> dict[str, Any]:
        """Arm the replacement of a lost band: its money from the old band read at this desk, else the
        collector's quote; the next blank band tapped receives it."""
        kiosk.require(current, Permission.ISSUE)
        source = kiosk.card_desk.from_band(body.card) or _quote(kiosk, body.card)
        kiosk.start(current, "replace", body.request_id, amount=source.balance, card_ref=source.card_id,
                    comp=source.comp)
        return {"card_id": source.card_id, "balance": source.balance, "comp": source.comp, "source": source.source,
                "balance_fmt": kiosk.money(source.balance), "comp_fmt": kiosk.money(source.comp)}

    @app.post("/api/cards/statement")
    def statement(current: Current) -> dict[str, Any]:
        """Print the statement of the band on the balance screen (history, balance, holder)."""
        from terminal.ui.card_view import print_statement

        return print_statement(kiosk)

    @app.post("/api/cards/refund")
    def refund(body: RefundBody, current: Current) -> dict[str, Any]:
        """Close and pay out the amount the screen showed for this band; the tap must be that band, that amount."""
        return {"started": kiosk.start(current, "close", body.request_id, amount=body.amount, method="cash",
                                       card_ref=body.card)}


def _quote(kiosk: Kiosk, card_id: int) -> ReplacementSource:
    from sync.client import SyncFailed

    client = kiosk.collector
    if client is None:
        raise KioskError("no_source", kiosk.tr(N_("Tap the old wristband first (no collector to ask)")), 409)
    try:
        quote = client.replacement_quote(card_id)
    except SyncFailed as exc:
        message = kiosk.tr(N_("Tap the old wristband first: the collector cannot quote it"))
        raise KioskError("no_source", f"{message} ({exc})", 409) from None
    return ReplacementSource(int(quote["card_id"]), int(quote["balance"]), int(quote["comp"]), "collector")
