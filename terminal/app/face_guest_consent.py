"""The guest's own confirmation of face consent, on the customer display.

The cashier starts a consent request; the display shows the exact text (the guest's language, with the retention
days) and "I agree" / "No". Only the guest's "I agree" records a consent (marked `guest_display`), so enrollment,
which `FacePay.enroll` gates on a recorded consent, cannot start before it. "No" or the timeout records a declined
consent, which the consent retention (`[camera] consent_keep_days`) removes like any consent without a template.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

CONFIRM_TIMEOUT_S = 120


@dataclass
class PendingConsent:
    account_id: str
    language: str
    text: str
    record_id: str
    operator: str
    deadline: float
    agree: str = "I agree"  # the buttons' words, in the guest's language
    decline: str = "No"


class GuestConsent:
    """One consent request at a time, waiting for the guest's answer on the display."""

    def __init__(self, face: Any, clock: Any = time.monotonic) -> None:
        self._face = face  # callable giving FacePay
        self._clock = clock
        self.pending: PendingConsent | None = None
        self.answers: dict[str, str] = {}  # account id -> "agreed" / "declined" / "timeout"

    def ask(self, pending: PendingConsent) -> None:
        self.expire()
        if self.pending is not None:
            self._decide(self.pending, "declined")
        pending.deadline = self._clock() + CONFIRM_TIMEOUT_S
        self.pending = pending

    def view(self) -> dict[str, Any] | None:
        p = self.pending
        return None if p is None else {"account_id": p.account_id, "language": p.language, "text": p.text,
                                  "agree": p.agree, "decline": p.decline}

    def answer(self, account_id: str, agreed: bool) -> str:
        """The guest's tap on the display. Returns the status of that request."""
        self.expire()
        p = self.pending
        if p is None or p.account_id != account_id:
            return self.answers.get(account_id, "unknown")
        return self._decide(p, "agreed" if agreed else "declined")

    def status(self, account_id: str) -> str:
        self.expire()
        if self.pending is not None and self.pending.account_id == account_id:
            return "waiting"
        return self.answers.get(account_id, "unknown")

    def expire(self) -> bool:
        p = self.pending
        if p is not None and self._clock() >= p.deadline:
            self._decide(p, "timeout")
            return True
        return False

    def _decide(self, p: PendingConsent, status: str) -> str:
        suffix = "guest_display" if status == "agreed" else "declined"
        self._face().record_consent(p.account_id, f"{p.record_id}/{suffix}", p.operator)
        self.pending = None
        self.answers[p.account_id] = status
        return status
