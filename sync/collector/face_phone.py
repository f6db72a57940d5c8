"""The phone-digits second factor, checked at the collector only.

Terminals that did not enroll a guest never receive the guest's phone digits nor anything they could check typed
digits against: 4 digits are 10^4 guesses, so any hash a terminal could verify alone would give them back. A
terminal asks instead (`POST /api/v1/face/phone-check`) with the candidate accounts its matcher found and the
digits typed; the collector compares them with the slow keyed hash on each account row (`phone_matches`) and
answers with the one account they confirm. Wrong answers are counted per account: after `MAX_MISSES` within
`WINDOW_S` that account's digits are not checked any more for the rest of the window (the guest pays by band).
"""

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from sync.collector.storage import Store

MAX_CANDIDATES = 5
MAX_MISSES = 5
WINDOW_S = 900


class PhoneCheckRefused(Exception):
    """Too many wrong digits for one of these accounts lately."""


class PhoneChecks:
    """Checks typed digits against the candidates' stored hashes, counting misses per account."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self._misses: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, candidates: list[str], digits: str) -> str | None:
        """The single candidate whose phone digits these are, or None. PhoneCheckRefused when locked out."""
        from sync.collector.face_gallery import phone_matches

        candidates = list(dict.fromkeys(candidates))[:MAX_CANDIDATES]
        now = self.clock()
        with self._lock:
            for account in candidates:
                recent = [t for t in self._misses.get(account, []) if now - t < WINDOW_S]
                self._misses[account] = recent
                if len(recent) >= MAX_MISSES:
                    raise PhoneCheckRefused(f"too many wrong phone digits for {account}: pay by wristband")
        marks = ",".join("?" * len(candidates))
        rows = self.store.query(f"SELECT account_id, phone_hash FROM face_accounts WHERE status = 'active' "
                                f"AND account_id IN ({marks})", candidates) if candidates else []
        hits = [r["account_id"] for r in rows if r["phone_hash"] and phone_matches(self.store, r["phone_hash"], digits)]
        if len(hits) == 1:
            return str(hits[0])
        with self._lock:
            for account in candidates:
                self._misses.setdefault(account, []).append(now)
        return None


class PhoneCheckRequest(BaseModel):
    candidates: list[str] = Field(min_length=1, max_length=MAX_CANDIDATES)
    digits: str = Field(pattern=r"^[0-9]{2,6}$")


def add_phone_check_route(app: FastAPI, checks: PhoneChecks, terminal: Callable[..., Any]) -> None:
    """`POST /api/v1/face/phone-check` on the collector's API, for a signed terminal request (`terminal`). The
    module has no postponed annotations: FastAPI reads `Depends(terminal)` from the live annotation."""

    @app.post("/api/v1/face/phone-check", summary="Which candidate account do these phone digits confirm (or none)")
    def post_face_phone_check(req: PhoneCheckRequest, tid: Annotated[int, Depends(terminal)]) -> dict[str, Any]:
        try:
            return {"account_id": checks.check(req.candidates, req.digits)}
        except PhoneCheckRefused as exc:
            raise HTTPException(429, str(exc)) from None
