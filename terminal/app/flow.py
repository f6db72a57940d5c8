"""The payment flow: one request at a time, bound to the first card that answers it.

Pure state: the card loop reports taps and wallet results, HTTP handlers
start and cancel requests, and this class decides what a tap means. That is
where "never charge twice" lives:

- a request (sale, top-up, ...) carries an id chosen by the screen; starting
  it again (double click, page reload re-posting) is recognised, and a
  finished request is never run again;
- the first tap while waiting binds the request to that card and moves to
  *processing*; taps during processing are ignored;
- after the result, a tap of the same card only shows the result again;
- if the card left before the write was confirmed (the wallet's TapAgain),
  only the same card can continue, and its tap *settles* the pending intent
  in the journal before anything else is offered.

A sale may also be paid by face: `start_face` arms the request (or switches a
waiting one) to *face* (camera and liveness challenge), which can ask for a
second factor (*face_factor*: phone digits or a wristband tap) and binds the
request to the matched face account on `face_matched` (*processing*); from
there it ends like a card payment, once. A wristband tapped while the camera
is still looking pays by wristband instead.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from terminal.money import is_minor_units
from terminal.refusal import Refusal

KINDS = ("sale", "void", "issue", "topup", "close", "replace")
DONE_REMEMBERED = 200  # finished request ids kept to refuse a replay


class Phase(StrEnum):
    IDLE = "idle"  # nothing asked; a tap shows the balance
    WAITING = "waiting"  # "tap wristband"
    PROCESSING = "processing"  # a card is bound and being read / written
    APPROVED = "approved"
    DECLINED = "declined"
    TAP_AGAIN = "tap_again"  # card left mid-write: the same card must come back
    RETRY = "retry"  # the re-tap showed nothing was written: offer to charge again
    FACE = "face"  # pay with face: camera, liveness challenge, 1:N match
    FACE_FACTOR = "face_factor"  # the match needs a second factor: phone digits or a wristband tap


BUSY = (Phase.WAITING, Phase.PROCESSING, Phase.TAP_AGAIN, Phase.RETRY, Phase.FACE, Phase.FACE_FACTOR)


class TapAction(StrEnum):
    BALANCE = "balance"  # read-only balance check
    EXECUTE = "execute"  # run the request on this card
    SETTLE = "settle"  # read this card so the journal settles the pending intent
    IGNORE = "ignore"  # tap during processing, or the paid card again
    WRONG_CARD = "wrong_card"  # another card while the bound one must come back
    FACTOR = "factor"  # a wristband tapped as the second factor of a face payment


@dataclass(frozen=True)
class Request:
    id: str
    kind: str
    amount: int = 0
    items: tuple[dict[str, Any], ...] = ()
    method: str | None = None
    holder: str | None = None
    operator: str | None = None
    card_ref: int | None = None  # close: the card whose payout was confirmed on screen; replace: the lost card
    comp: int = 0  # replace: the complimentary part of the balance moved to the new band

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FlowError("bad_request", f"unknown request kind {self.kind!r}")
        if not self.id or len(self.id) > 64:
            raise FlowError("bad_request", "a request needs an id of 1..64 characters")
        if not is_minor_units(self.amount):
            raise FlowError("bad_request", "amount must be whole minor units, zero or more")
        if self.kind in ("sale", "topup") and self.amount <= 0:
            raise FlowError("bad_request", f"a {self.kind} needs an amount above zero")
        if self.kind == "replace" and (self.card_ref is None or not 0 <= self.comp <= self.amount):
            raise FlowError("bad_request", "a replacement names the lost card and a comp part within its balance")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "amount": self.amount, "items": list(self.items),
                "method": self.method, "holder": self.holder, "operator": self.operator,
                "card_ref": self.card_ref, "comp": self.comp}


@dataclass(frozen=True)
class Decision:
    action: TapAction
    request: Request | None = None
    intent_seq: int | None = None


class FlowError(Refusal):
    """A request that cannot start or stop now; `code` is stable for the UI."""


@dataclass
class Flow:
    phase: Phase = Phase.IDLE
    request: Request | None = None
    card: str | None = None  # uid (hex) the request is bound to
    intent_seq: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    notice: str = ""  # a transient hint: "processing", "wrong_card", "already_done", "read_failed"
    version: int = 0
    _done: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)

    # --- from the screens ----------------------------------------------------------

    def start(self, request: Request) -> bool:
        """Arm a request; False if this very request is already armed or finished (nothing to do)."""
        if request.id in self._done:
            return False
        if self.phase in BUSY:
            if self.request is not None and self.request.id == request.id:
                return False
            raise FlowError("busy", "another payment is in progress: finish or cancel it first")
        self._set(Phase.WAITING, request=request, card=None, intent_seq=None, result={})
        return True

    def start_face(self, request: Request) -> bool:
        """Pay this sale by face; a request already waiting for a tap switches to the camera. False when this
        request is already on the camera or finished."""
        if request.kind != "sale":
            raise FlowError("bad_request", "only a sale can be paid by face")
        if request.id in self._done:
            return False
        same = self.request is not None and self.request.id == request.id
        if self.phase is Phase.WAITING and same:
            self._set(Phase.FACE)
            return True
        if self.phase in BUSY:
            if same:
                return False
            raise FlowError("busy", "another payment is in progress: finish or cancel it first")
        self._set(Phase.FACE, request=request, card=None, intent_seq=None, result={})
        return True

    def face_factor(self) -> None:
        self._expect(Phase.FACE)
        self._set(Phase.FACE_FACTOR)

    def face_matched(self, account_id: str) -> None:
        """The face (and second factor) named the account: the request is bound to it, as to a card."""
        if self.phase not in (Phase.FACE, Phase.FACE_FACTOR):
            raise FlowError("bad_state", f"expected face, flow is {self.phase.value}")
        self._set(Phase.PROCESSING, card=f"face:{account_id}")

    def face_refused(self, code: str, message: str, **extra: Any) -> None:
        """Face pay gave up (liveness, attempts, camera): the sale is declined with the reason."""
        if self.phase not in (Phase.FACE, Phase.FACE_FACTOR):
            raise FlowError("bad_state", f"expected face, flow is {self.phase.value}")
        self._finish(Phase.DECLINED, {"code": code, "message": message, "missing": None, **extra})

    def face_back(self) -> None:
        """Leave the camera: the same sale waits for a wristband tap."""
        if self.phase not in (Phase.FACE, Phase.FACE_FACTOR):
            raise FlowError("bad_state", f"expected face, flow is {self.phase.value}")
        self._set(Phase.WAITING, card=None)

    def cancel(self, *, force: bool = False) -> None:
        """Back to idle. Never while a card is being written; an unsettled card needs `force` (supervisor)."""
        if self.phase is Phase.PROCESSING:
            raise FlowError("processing", "a card is being written: wait for the result")
        if self.phase is Phase.TAP_AGAIN and not force:
            raise FlowError("unsettled", "the card left during the write: tap the same card again to settle it")
        self._set(Phase.IDLE, request=None, card=None, intent_seq=None, result={})

    def retry(self) -> None:
        """After a settled abort: arm the same request again (any card may pay)."""
        if self.phase is not Phase.RETRY:
            raise FlowError("not_retryable", "nothing to retry")
        self._set(Phase.WAITING, card=None, intent_seq=None, result={})

    # --- from the card loop ----------------------------------------------------------

    def on_tap(self, uid: str) -> Decision:
        if self.phase in (Phase.WAITING, Phase.FACE):  # a tap while the camera looks: the wristband pays
            self._set(Phase.PROCESSING, card=uid)
            return Decision(TapAction.EXECUTE, self.request)
        if self.phase is Phase.FACE_FACTOR:
            return Decision(TapAction.FACTOR, self.request)
        if self.phase is Phase.PROCESSING:
            self._note("processing")
            return Decision(TapAction.IGNORE)
        if self.phase is Phase.TAP_AGAIN:
            if uid != self.card:
                self._note("wrong_card")
                return Decision(TapAction.WRONG_CARD)
            self._set(Phase.PROCESSING)
            return Decision(TapAction.SETTLE, self.request, self.intent_seq)
        if self.phase in (Phase.APPROVED, Phase.DECLINED, Phase.RETRY) and uid == self.card:
            self._note("already_done")
            return Decision(TapAction.IGNORE)
        return Decision(TapAction.BALANCE)

    def approved(self, result: dict[str, Any]) -> None:
        self._expect(Phase.PROCESSING)
        self._finish(Phase.APPROVED, result)

    def declined(self, code: str, message: str, *, missing: int | None = None, **extra: Any) -> None:
        self._expect(Phase.PROCESSING)
        self._finish(Phase.DECLINED, {"code": code, "message": message, "missing": missing, **extra})

    def read_failed(self) -> None:
        """The card left before anything was written: still waiting, for any card."""
        self._expect(Phase.PROCESSING)
        self._set(Phase.WAITING, card=None)
        self._note("read_failed")

    def tap_again(self, intent_seq: int) -> None:
        self._expect(Phase.PROCESSING)
        self._set(Phase.TAP_AGAIN, intent_seq=intent_seq)

    def settled(self, committed: bool, result: dict[str, Any]) -> None:
        """The re-tap told the journal's outcome of the pending intent."""
        self._expect(Phase.PROCESSING)
        if committed:
            self._finish(Phase.APPROVED, result)
        else:
            self._set(Phase.RETRY, intent_seq=None, result=result)

    # --- views ---------------------------------------------------------------------------

    def finished(self, request_id: str) -> dict[str, Any] | None:
        return self._done.get(request_id)

    def snapshot(self) -> dict[str, Any]:
        return {"phase": self.phase.value, "request": self.request.as_dict() if self.request else None,
                "card": self.card, "intent_seq": self.intent_seq, "result": dict(self.result),
                "notice": self.notice, "version": self.version}

    # --- internals -------------------------------------------------------------------

    def _finish(self, phase: Phase, result: dict[str, Any]) -> None:
        assert self.request is not None
        self._set(phase, result=result, intent_seq=None)
        self._done[self.request.id] = {"phase": phase.value, **result}
        while len(self._done) > DONE_REMEMBERED:
            self._done.popitem(last=False)

    def _expect(self, phase: Phase) -> None:
        if self.phase is not phase:
            raise FlowError("bad_state", f"expected {phase.value}, flow is {self.phase.value}")

    def _set(self, phase: Phase, **changes: Any) -> None:
        self.phase = phase
        for name, value in changes.items():
            setattr(self, name, value)
        self.notice = ""
        self.version += 1

    def _note(self, notice: str) -> None:
        self.notice = notice
        self.version += 1
