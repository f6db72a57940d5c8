"""What a tapped card means now (the flow decides), and doing it: a balance shown, a request booked, a torn
write settled, or the wristband as a face payment's second factor. The card loop's only entry point."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from terminal.app import card_view
from terminal.app.booking import Booked, Booking
from terminal.app.card_desk import printed_id
from terminal.app.flow import Phase, Request, TapAction
from terminal.wallet.card import CardError, PurseTag, UnsupportedCard
from terminal.wallet.operations import TapAgain
from terminal.wallet.rules import Declined

if TYPE_CHECKING:
    from terminal.app.port import TillPort

CARD_HISTORY_OPS = ("issue", "topup", "sale", "void", "close", "replace")


_VIEWS = itertools.count(1)  # each balance view a tap shows gets its own number (a screen closes only that one)

class TapDispatch:
    def __init__(self, till: TillPort, booking: Booking, *, clock: Callable[[], float]) -> None:
        self.till = till
        self.booking = booking
        self._clock = clock

    def handle_tap(self, tag: PurseTag) -> None:
        """Called by the card loop for each card; the only place card money moves."""
        till = self.till
        tapped = time.perf_counter()
        uid = tag.uid.hex()  # type: ignore[attr-defined]
        with till.lock:
            decision = till.flow.on_tap(uid)
            operator = till.session.operator if till.session else None
        io_s = 0.0
        if decision.action is TapAction.FACTOR:
            till.face_sale.wristband(uid)
        elif decision.action is TapAction.BALANCE and till.face_cashier.tapped(uid):
            pass  # the cashier's enrollment form asked for this wristband
        elif decision.action is TapAction.BALANCE:
            io_s = self._balance(tag, operator)
        elif decision.action is TapAction.EXECUTE:
            assert decision.request is not None
            io_s = self._execute(tag, decision.request)
        elif decision.action is TapAction.SETTLE:
            assert decision.request is not None and decision.intent_seq is not None
            io_s = self._settle(tag, decision.request, decision.intent_seq)
        till.publish()
        now = time.perf_counter()
        till.timings.append({"io_s": io_s, "handled_s": now - tapped, "wall_tap": time.time() - (now - tapped),
                             "version": float(till.flow.version)})

    def unsupported_tap(self, message: str) -> None:
        till = self.till
        with till.lock:
            if till.flow.phase is Phase.IDLE or till.flow.phase in (Phase.APPROVED, Phase.DECLINED):
                till.balance_view = {"decline": {"code": "unsupported", "message": message, "missing": None},
                                     "serial": next(_VIEWS)}
        till.signal("declined")
        till.publish()

    def _balance(self, tag: PurseTag, operator: str | None) -> float:
        till = self.till
        start = time.perf_counter()
        view: dict[str, Any]
        try:
            state = till.wallet.read(tag, operator=operator)
        except Declined as exc:
            view = {"decline": {"code": exc.code, "message": exc.message, "missing": exc.missing}, "code": exc.code}
            if exc.code == "blocked":
                view.update(card_view.blocked_view(till))  # which band, whose, why
        except UnsupportedCard as exc:
            view = {"decline": {"code": "unsupported", "message": str(exc), "missing": None}}
        except CardError:
            return time.perf_counter() - start
        else:
            view = state.as_dict()
            view["history"] = view["history"][:6]
            view["journal"] = till.card_desk.history(state.card_id, CARD_HISTORY_OPS)
            view["printed_id"] = printed_id(state.card_id)
            view.update(card_view.labels(till, state))  # holder, closed/blocked/replaced label, the band's cap
            till.card_desk.remember(state.card_id, state.balance, state.record.comp)
        io = time.perf_counter() - start
        with till.lock:
            till.balance_view = {**view, "serial": next(_VIEWS)}
        return io

    def _execute(self, tag: PurseTag, request: Request) -> float:
        till = self.till
        start = time.perf_counter()
        try:
            outcome = self.booking.book(tag, request)
        except Declined as exc:
            with till.lock:
                till.flow.declined(exc.code, exc.message, missing=exc.missing)
            kind = "declined"
        except TapAgain as exc:
            with till.lock:
                till.flow.tap_again(int(exc.intent["seq"]))
                till.tap_again_at = self._clock()
            kind = "error"
        except UnsupportedCard as exc:
            with till.lock:
                till.flow.declined("unsupported", str(exc))
            kind = "declined"
        except CardError:
            with till.lock:
                till.flow.read_failed()
            kind = "error"
        else:
            io = time.perf_counter() - start
            spent = 0 if isinstance(outcome, Booked) else outcome.state.record.spent
            till.approved(request, outcome.as_dict(), spent)
            return io
        io = time.perf_counter() - start
        till.signal(kind)
        return io

    def _settle(self, tag: PurseTag, request: Request, intent_seq: int) -> float:
        till = self.till
        start = time.perf_counter()
        try:
            state = till.wallet.read(tag, operator=request.operator)
        except Declined as exc:
            outcome = till.journal.outcome(intent_seq)
            if outcome is None:
                with till.lock:
                    till.flow.declined(exc.code, exc.message, missing=exc.missing)
                return time.perf_counter() - start
            state = None
        except CardError:
            with till.lock:
                till.flow.tap_again(intent_seq)
            return time.perf_counter() - start
        io = time.perf_counter() - start
        outcome = till.journal.outcome(intent_seq)
        if outcome is not None and outcome["phase"] == "commit":
            result = {"op": outcome["op"], "amount": outcome["amount"], "balance_before": outcome["balance_before"],
                      "balance_after": outcome["balance_after"], "journal_seq": outcome["seq"],
                      "card_id": outcome["card_id"], "settled": True}
            with till.lock:
                till.flow.settled(True, result)
                if request.kind == "sale":
                    till.cart.clear()
            till.signal("approved")
            till.print_later(outcome["seq"], state.record.spent if state is not None else 0)
        else:
            with till.lock:
                till.flow.settled(False, {"aborted": outcome["seq"] if outcome else None})
            till.signal("declined")
        return io
