"""Check, then book: a pure `plan` says whether an operation may be done; `book` does it once per request id.

`plan` reads only the wallet's policy (terminal mode, operator role): nothing
is written, so a screen may ask it before anyone takes cash. A refusal is then
journaled by `refuse`, the till's one place for refusals made before a card is
read. `book` first looks the request id up in the journal: a sale already
committed for it (card: `data.sale_id`, face: `data.request_id`) is returned
as it is, so a request re-sent after a restart (the id is persisted with the
sale, not kept in memory) never charges twice. A sale whose write was torn
before the restart is settled on that card first, then looked up again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terminal.app.card_desk import CardDesk
from terminal.app.flow import Request
from terminal.wallet.declines import record_decline
from terminal.wallet.journal import Journal
from terminal.wallet.operations import Outcome, Wallet
from terminal.wallet.roles import credit_operation
from terminal.wallet.rules import Declined


@dataclass(frozen=True)
class Booked:
    """The committed entry a request id already has in the journal: shown again, never charged again."""

    entry: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        e = self.entry
        return {"op": e["op"], "amount": e["amount"], "balance_before": e["balance_before"],
                "balance_after": e["balance_after"], "journal_seq": e["seq"], "card_id": e["card_id"],
                "already_booked": True}


class Booking:
    def __init__(self, wallet: Wallet, journal: Journal, card_desk: CardDesk) -> None:
        self.wallet = wallet
        self.journal = journal
        self.card_desk = card_desk

    def plan(self, kind: str, method: str | None, operator: str | None) -> Declined | None:
        """Whether this terminal and this operator may do `kind` now; no side effect."""
        try:
            self.wallet.policy.check(credit_operation(kind, method), operator)
        except Declined as exc:
            return exc
        return None

    def refuse(self, kind: str, method: str | None, operator: str | None, refusal: Declined) -> None:
        """Journal a refusal `plan` returned (the collector sees who tried what)."""
        record_decline(self.journal, refusal.code, refusal.message, operator=operator,
                       operation=credit_operation(kind, method))

    def booked(self, request_id: str) -> dict[str, Any] | None:
        """The sale committed for this request id, card or face, if any (the journal is the truth)."""
        return self.journal.request_entry("sale", request_id)

    def book(self, tag: Any, request: Request) -> Outcome | Booked:
        """Run the request on this card, once: a sale already in the journal for its id is returned instead."""
        op = request.operator
        if request.kind == "sale":
            if self._torn(request.id):
                self.wallet.recover(tag)  # settles the torn write on this card: committed or aborted
            done = self.booked(request.id)
            if done is not None:
                return Booked(done)
            return self.wallet.charge(tag, request.amount, items=list(request.items), operator=op, sale_id=request.id)
        if request.kind == "topup":
            return self.wallet.topup(tag, request.amount, method=request.method or "cash", operator=op)
        if request.kind == "issue":
            return self.wallet.issue(tag, request.amount, method=request.method or "cash", holder=request.holder,
                                     operator=op)
        if request.kind == "close":
            if request.card_ref is not None:  # the payout was shown on screen: only that band, only that amount
                state = self.wallet.read(tag, operator=op)
                if state.card_id != request.card_ref:
                    raise Declined("other_card", "not the wristband whose refund was shown")
                if state.record.refundable != request.amount:
                    raise Declined("amount_changed", "the refundable amount changed since it was shown")
            return self.wallet.close(tag, operator=op, method=request.method or "cash")
        if request.kind == "replace":
            assert request.card_ref is not None
            outcome = self.wallet.replace(tag, old_card_id=request.card_ref, balance=request.amount,
                                          comp=request.comp, operator=op)
            self.card_desk.forget()
            return outcome
        if request.kind == "void":
            return self.wallet.void(tag, operator=op)
        raise AssertionError(request.kind)

    def _torn(self, request_id: str) -> bool:
        """A write of this sale was begun and never settled (torn, then the terminal restarted)."""
        intent = self.journal.request_entry("sale", request_id, phase="intent")
        return intent is not None and self.journal.outcome(intent["seq"]) is None
