"""Decision rules for a face payment: accept, ask for a second factor, or refuse. Pure functions.

A wrong match spends someone else's money, so acceptance is a stated operating
point, not a default:

- `threshold` is calibrated on an evaluation set to a configured false-match
  rate (FMR) with `threshold_for_fmr` (`stallpay face eval` prints it). A
  threshold that was not calibrated (`calibrated=False`) never accepts alone.
- The best identity must lead the second best by `margin`; look-alikes and
  twins fall back to a second factor.
- In 1:N search the chance that *some* enrolled guest matches a stranger grows
  with the gallery: FPIR ~= gallery size x FMR. Above `fpir_bound` every match
  needs a second factor.
- Second factor: the last digits of the phone number given at enrollment, or
  the guest's wristband; it picks among the candidates above the threshold.
- Attempts are limited per payment (`AttemptCounter`), and a second factor
  allows a few tries before face pay is refused for that payment.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from terminal.camera.matcher import Candidate, SearchResult


class Outcome(StrEnum):
    ACCEPT = "accept"
    SECOND_FACTOR = "second factor"
    NO_MATCH = "no match"
    RETRY = "retry"  # quality or liveness not met yet; guidance says why
    LOCKED = "locked"  # too many attempts: pay with the wristband
    UNAVAILABLE = "unavailable"  # camera missing / pipeline not installed: card payments continue


@dataclass(frozen=True)
class DecisionPolicy:
    threshold: float
    calibrated: bool = False
    fmr: float = 1e-4
    margin: float = 0.08
    fpir_bound: float = 0.01
    max_attempts: int = 3
    second_factor_attempts: int = 3

    def __post_init__(self) -> None:
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be a cosine similarity between -1 and 1")
        if not 0.0 < self.fmr < 1.0:
            raise ValueError("fmr must be between 0 and 1")
        if self.margin < 0 or self.fpir_bound <= 0 or self.max_attempts < 1 or self.second_factor_attempts < 1:
            raise ValueError("margin >= 0, fpir_bound > 0 and attempt limits >= 1 are required")


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    account_id: str | None = None
    score: float | None = None
    second_score: float | None = None
    candidates: tuple[Candidate, ...] = ()
    reason: str = ""
    guidance: str = ""

    def journal_record(self) -> dict[str, object]:
        """What the journal keeps: scores and the reason, never an image or a template."""
        return {
            "outcome": self.outcome.value,
            "account_id": self.account_id,
            "score": None if self.score is None else round(self.score, 4),
            "second_score": None if self.second_score is None else round(self.second_score, 4),
            "candidates": len(self.candidates),
            "reason": self.reason,
        }


def expected_fpir(gallery_size: int, fmr: float) -> float:
    """Probability that a stranger matches anyone in the gallery: 1-(1-FMR)^N, ~N x FMR for small values."""
    return -math.expm1(gallery_size * math.log1p(-fmr)) if gallery_size > 0 else 0.0


def decide(result: SearchResult, policy: DecisionPolicy) -> Decision:
    best = result.best
    if best is None:
        return Decision(Outcome.NO_MATCH, reason="gallery is empty")
    second = result.second_score
    base = {"score": best.score, "second_score": second if len(result.candidates) > 1 else None}
    if best.score < policy.threshold:
        return Decision(Outcome.NO_MATCH, reason="below threshold", **base)
    above = tuple(c for c in result.candidates if c.score >= policy.threshold)
    reasons = []
    if not policy.calibrated:
        reasons.append("threshold not calibrated")
    if best.score - second < policy.margin:
        reasons.append(f"margin {best.score - second:.3f} < {policy.margin}")
    fpir = expected_fpir(result.gallery_size, policy.fmr)
    if fpir > policy.fpir_bound:
        reasons.append(f"gallery of {result.gallery_size}: FPIR {fpir:.2g} > {policy.fpir_bound}")
    if reasons:
        return Decision(Outcome.SECOND_FACTOR, candidates=above, reason="; ".join(reasons), **base)
    return Decision(Outcome.ACCEPT, account_id=best.account_id, candidates=(best,), reason="match", **base)


@dataclass
class AttemptCounter:
    """Counts face attempts for one payment; after `limit` failures the guest pays by wristband."""

    limit: int
    failures: int = 0

    @property
    def exhausted(self) -> bool:
        return self.failures >= self.limit

    def record(self, decision: Decision) -> Decision:
        if decision.outcome in (Outcome.NO_MATCH, Outcome.RETRY):
            self.failures += 1
            if self.exhausted:
                return Decision(Outcome.LOCKED, score=decision.score, reason=f"{self.limit} attempts failed",
                                guidance="Please pay with your wristband")
        return decision


@dataclass(frozen=True)
class FactorRecord:
    """What confirms a candidate here: phone digits typed at this terminal's own enrollment (templates from the
    collector carry none: `phone_online` says the collector checks them), and the wristband as a salted slow hash
    (`sync.format.face_keys.band_digest`; older records: the UID in hex)."""

    phone_digits: str = ""
    wristband_uid: str = ""
    phone_online: bool = False


PhoneCheck = Callable[[list[str], str], "str | None"]  # (candidate account ids, digits) -> the one they confirm


@dataclass
class SecondFactor:
    """Resolves a SECOND_FACTOR decision with phone digits or a wristband; limited tries."""

    decision: Decision
    factors: Mapping[str, FactorRecord]
    attempts_left: int = 3
    phone_check: PhoneCheck | None = None  # the collector's check; raises OSError/ConnectionError when unreachable
    resolved: Decision | None = field(default=None, init=False)

    def _finish(self, account_id: str | None, how: str) -> Decision:
        if account_id is not None:
            score = next(c.score for c in self.decision.candidates if c.account_id == account_id)
            self.resolved = Decision(Outcome.ACCEPT, account_id=account_id, score=score,
                                     second_score=self.decision.second_score, candidates=self.decision.candidates,
                                     reason=f"match confirmed by {how}")
            return self.resolved
        self.attempts_left -= 1
        if self.attempts_left <= 0:
            self.resolved = Decision(Outcome.LOCKED, score=self.decision.score, reason=f"{how} did not match",
                                     guidance="Please pay with your wristband")
            return self.resolved
        return Decision(Outcome.SECOND_FACTOR, score=self.decision.score, candidates=self.decision.candidates,
                        reason=f"{how} did not match", guidance=f"Not recognised, {self.attempts_left} tries left")

    def with_phone_digits(self, digits: str) -> Decision:
        digits = digits.strip()
        if not digits.isdigit():
            raise ValueError("enter digits only")
        local = self._unique(lambda f: f.phone_digits, lambda v: hmac.compare_digest(v.encode(), digits.encode()))
        online = [c.account_id for c in self.decision.candidates
                  if self.factors.get(c.account_id, FactorRecord()).phone_online]
        if local is None and online:
            if self.phone_check is None:
                return self._offline()
            try:
                local = self.phone_check(online, digits)
            except (OSError, ConnectionError):
                return self._offline()
        return self._finish(local, "phone digits")

    def with_wristband(self, uid_hex: str) -> Decision:
        from sync.format.face_keys import band_matches

        return self._finish(self._unique(lambda f: f.wristband_uid, lambda v: band_matches(v, uid_hex)), "wristband")

    def _offline(self) -> Decision:
        """Phone digits of a guest enrolled elsewhere are checked by the collector only: no try is used up."""
        return Decision(Outcome.SECOND_FACTOR, score=self.decision.score, candidates=self.decision.candidates,
                        reason="phone digits can only be checked online", guidance="factor_offline")

    def _unique(self, field_of: Callable[[FactorRecord], str], matches: Callable[[str], bool]) -> str | None:
        if self.resolved is not None:
            raise RuntimeError("second factor already resolved")
        hits = [c.account_id for c in self.decision.candidates
                if (value := field_of(self.factors.get(c.account_id, FactorRecord()))) and matches(value)]
        return hits[0] if len(hits) == 1 else None


# --- calibration -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    threshold: float
    fmr: float
    impostor_pairs: int
    supported: bool  # enough impostor pairs to observe this FMR at all (n x FMR >= 1)


def threshold_for_fmr(impostor_scores: Sequence[float], fmr: float) -> Calibration:
    """Smallest threshold whose false-match rate on these impostor scores is <= fmr (ties count as matches)."""
    scores = np.sort(np.asarray(impostor_scores, dtype=np.float64))[::-1]
    n = scores.size
    if n == 0:
        raise ValueError("no impostor (different person) pairs to calibrate on")
    allowed = math.floor(fmr * n)  # how many impostors may score at or above the threshold
    threshold = float(np.nextafter(scores[0], np.inf)) if allowed == 0 else float(scores[allowed - 1])
    if allowed and allowed < n and scores[allowed] == scores[allowed - 1]:
        threshold = float(np.nextafter(scores[allowed - 1], np.inf))
    return Calibration(threshold=threshold, fmr=fmr, impostor_pairs=n, supported=n * fmr >= 1.0)
