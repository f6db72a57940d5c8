"""Arming requests from the screens (a sale of the cart, by card or face; top-up, issue, refund, replacement,
void), and leaving them: cancel, retry after a settled abort, dismiss a result.

A request id chosen by the screen makes a repeated click or a page reload
harmless: a request already armed, finished in this run (`Flow`) or booked in
the journal before a restart (`Booking.booked`) is not armed again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from terminal.app.booking import Booking
from terminal.app.errors import TillError
from terminal.app.flow import FlowError, Phase, Request
from terminal.app.permissions import KIND_PERMISSION, Permission
from terminal.app.session import Session
from terminal.app.words import N_
from terminal.wallet.rules import TOPUP_METHODS

if TYPE_CHECKING:
    from terminal.app.port import TillPort

CANCEL_TEXT = {"processing": N_("A wristband is being written: wait for the result"),
               "unsettled": N_("Tap the SAME wristband again to settle the payment")}


class Payments:
    def __init__(self, till: TillPort, booking: Booking, *, clock: Callable[[], float]) -> None:
        self.till = till
        self.booking = booking
        self._clock = clock

    def charge(self, session: Session, request_id: str) -> bool:
        """Arm a sale of the cart; False if this request was already armed or done (a repeated click or reload)."""
        till = self.till
        till.require(session, Permission.SELL)
        with till.lock:
            if self._seen(request_id) or (till.flow.request is not None and till.flow.request.id == request_id):
                return False
            if till.cart.empty:
                raise TillError("empty_cart", till.tr(N_("The cart is empty")), 400)
            self._sales_allowed(session.operator)
            request = _request(request_id, "sale", till.cart.total, items=tuple(till.cart.items()),
                               operator=session.operator)
            return self._start(request)

    def face_start(self, session: Session, request_id: str) -> bool:
        """Pay the cart (or the sale waiting for a tap) with face; False for a repeated request."""
        till = self.till
        till.require(session, Permission.SELL)
        with till.lock:
            if self._seen(request_id):
                return False
            self._sales_allowed(session.operator)
            request = till.flow.request
            if request is None or request.id != request_id:
                if till.cart.empty:
                    raise TillError("empty_cart", till.tr(N_("The cart is empty")), 400)
                request = _request(request_id, "sale", till.cart.total, items=tuple(till.cart.items()),
                                   operator=session.operator)
            started = till.face_sale.start(request)
            till.balance_view = None
        till.publish()
        return started

    def start(self, session: Session, kind: str, request_id: str, *, amount: int = 0, method: str | None = None,
              holder: str | None = None, card_ref: int | None = None, comp: int = 0) -> bool:
        """Arm a cashier's request; refused (and journaled) before anyone takes cash when the terminal's mode
        or the operator's role does not allow it."""
        till = self.till
        if kind not in KIND_PERMISSION or kind == "sale":
            raise TillError("bad_request", f"unknown request kind {kind!r}", 400)
        till.require(session, KIND_PERMISSION[kind])
        if kind in ("topup", "issue"):
            method = method or "cash"
            if method not in TOPUP_METHODS:
                raise TillError("bad_request", till.tr(N_("Unknown payment method")), 400)
        refusal = self.booking.plan(kind, method, session.operator)
        if refusal is not None:
            self.booking.refuse(kind, method, session.operator, refusal)
            raise TillError(refusal.code, refusal.message, 403)
        with till.lock:
            request = _request(request_id, kind, amount, method=method, holder=holder, operator=session.operator,
                               card_ref=card_ref, comp=comp)
            return self._start(request)

    def cancel(self, session: Session | None, *, force: bool = False) -> None:
        till = self.till
        if force and (session is None or not (session.may(Permission.SETTINGS) or self.leave_after() == 0)):
            raise TillError("not_permitted", till.tr(N_("Only a supervisor can abandon an unsettled payment")), 403)
        with till.lock:
            try:
                till.flow.cancel(force=force)
                till.face_sale.stop()
            except FlowError as exc:
                message = CANCEL_TEXT.get(exc.code)
                raise TillError(exc.code, till.tr(message) if message else exc.message) from None
            till.balance_view = None
        till.publish()

    def retry(self, session: Session) -> None:
        with self.till.lock:
            try:
                self.till.flow.retry()
            except FlowError as exc:
                raise TillError(exc.code, exc.message) from None
        self.till.publish()

    def dismiss(self, *, version: int | None = None, balance_view: int | None = None) -> None:
        """Close a result or a balance view (any screen may; nothing moves money).

        A screen's timer says what it saw (`version` of the flow, `balance_view` = the view's `serial`): a timer
        that fires while a newer result or balance is on its way to the screen must not close that one.
        """
        till = self.till
        with till.lock:
            if version is not None and version != till.flow.version:
                return
            current = (till.balance_view or {}).get("serial")
            if balance_view is not None and current is not None and balance_view != current:
                return
            if till.flow.phase in (Phase.APPROVED, Phase.DECLINED):
                till.flow.cancel()
            till.balance_view = None
        till.publish()

    def button_cancel(self) -> None:
        """The physical cancel button: cancels a payment that is only waiting for a tap."""
        with contextlib.suppress(TillError):
            self.cancel(None)

    def leave_after(self) -> float | None:
        """Seconds until any operator may leave a torn payment pending (0: now); None when nothing is torn."""
        till = self.till
        if till.flow.phase is not Phase.TAP_AGAIN or till.tap_again_at is None:
            return None
        return max(0.0, round(till.config.ui.leave_pending_s - (self._clock() - till.tap_again_at), 1))

    def _seen(self, request_id: str) -> bool:
        """Finished in this run, or a sale booked in the journal (before a restart too)."""
        return self.till.flow.finished(request_id) is not None or self.booking.booked(request_id) is not None

    def _sales_allowed(self, operator: str | None) -> None:
        """Too long without a sync: no new sale (card or face) until the terminal syncs (TillError says so). Outside
        the event's dates neither (journaled), said before the guest taps; other refusals come at the tap."""
        if self.till.sync_panel is not None:
            self.till.sync_panel.check_sale()
        refusal = self.booking.plan("sale", None, operator)
        if refusal is not None and refusal.code == "outside_event":
            self.booking.refuse("sale", None, operator, refusal)
            raise TillError(refusal.code, self.till.tr(N_(
                "Outside the event's dates: no sales or top-ups now, refunds still work")), 403)

    def _start(self, request: Request) -> bool:
        till = self.till
        try:
            started = till.flow.start(request)
        except FlowError as exc:
            raise TillError(exc.code, till.tr(N_("Another payment is in progress")), 409) from None
        till.balance_view = None
        till.publish()
        return started


def _request(request_id: str, kind: str, amount: int, **kwargs: Any) -> Request:
    try:
        return Request(id=request_id, kind=kind, amount=amount, **kwargs)
    except FlowError as exc:
        raise TillError(exc.code, exc.message, 400) from None
