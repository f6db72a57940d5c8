"""`FacePay`: the one object the terminal application and sync talk to for face pay.

Interface for integration (UI, cashier mode, sync bundles):

- `FacePay.from_config(config, keys, journal=...)` - never raises for a missing
  camera or face stack; `status()` then says "camera missing" / why, and card
  payments go on as before.
- Payment: `session = face_pay.start_payment()` picks a random liveness
  challenge (`session.challenge.guidance` is what to show); feed camera frames
  with `session.feed(frame) -> Progress` (guidance for the customer display,
  and `decision` once there is one). `identify(frames)` runs a whole session
  over a finite sequence (demo, `stallpay face identify`).
  A SECOND_FACTOR decision is resolved with `second_factor(decision)` ->
  `SecondFactor.with_phone_digits("1234")` / `.with_wristband(uid_hex)`.
  The money side is `terminal.wallet.face_allowance.plan_face_debit`.
- Enrollment (cashier mode): `record_consent(account_id, text_id, operator)`
  before any capture, then `enroll(account_id, frames, phone_digits=...,
  wristband_uid=...) -> EnrollResult` (quality gated, several frames averaged,
  duplicate check against the gallery).
- Erasure: `erase(account_id, reason)` (checkout or request, at once);
  `apply_gallery_changes(changes)` applies a bundle's `GalleryChange`s (puts
  and erasures from the collector); `pending_erasure_confirmations()` goes into
  the next batch, `confirm_erasures_sent(ids)` after the collector stored it;
  `purge_expired()` runs at start and daily.

Every decision is passed to `journal(kind, record)` with scores, never images
or templates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from terminal.camera.decision import (
    AttemptCounter,
    Decision,
    DecisionPolicy,
    FactorRecord,
    Outcome,
    SecondFactor,
    decide,
)
from terminal.camera.frames import CameraState, CameraStatus, Frame, FrameSource, NoCamera
from terminal.camera.gallery import Erasure, Gallery, board_gallery_key
from terminal.camera.liveness import Challenge, LivenessCheck, LivenessRules, Status, pick_challenge
from terminal.camera.matcher import normalize
from terminal.camera.quality import Guidance
from terminal.camera.stack import DeferredSource, FaceStack

if TYPE_CHECKING:
    from terminal.camera.pipeline import FacePipeline
    from terminal.config import CameraSection, Config, EventKeys

Journal = Callable[[str, dict[str, object]], None]
DAY = 86_400
LIVENESS_OFF_REFUSED = '[camera] liveness = "demo-off" is refused outside the demo: face pay is off'


def _no_journal(kind: str, record: dict[str, object]) -> None:
    return None


@dataclass(frozen=True)
class Progress:
    guidance: Guidance
    decision: Decision | None = None
    liveness: Status = Status.PENDING


@dataclass(frozen=True)
class GalleryChange:
    """One change from a collector bundle. `template` is the float list (the bundle is verified by sync)."""

    account_id: str
    erase: bool = False
    template: tuple[float, ...] = ()
    phone_digits: str = ""
    wristband_uid: str = ""
    expires_at: int = 0
    phone_online: bool = False


class EnrollOutcome(StrEnum):
    ENROLLED = "enrolled"
    NO_CONSENT = "no consent recorded"
    TOO_FEW_FRAMES = "not enough good frames"
    INCONSISTENT = "frames show different faces"
    DUPLICATE = "face already enrolled"
    UNAVAILABLE = "face pay unavailable"


@dataclass(frozen=True)
class EnrollResult:
    outcome: EnrollOutcome
    account_id: str
    duplicate_of: str | None = None
    frames_used: int = 0
    guidance: tuple[Guidance, ...] = ()
    # the enrolled template (unit vector), so the cashier terminal can seal it and send it to the collector
    template: tuple[float, ...] = ()


class FacePay:
    def __init__(self, gallery: Gallery, settings: CameraSection, pipeline: FacePipeline | None,
                 source: FrameSource | None = None, journal: Journal | None = None,
                 clock: Callable[[], float] = time.time, pipeline_problem: str = "", demo: bool = False,
                 stack: FaceStack | None = None) -> None:
        """`stack`: where the pipeline comes from when it is built later (`from_config`); else `pipeline` is it."""
        self.gallery = gallery
        self.settings = settings
        self.stack = stack or FaceStack(pipeline=pipeline, problem=pipeline_problem)
        self.source = source or NoCamera()
        self.journal = journal or _no_journal
        self.clock = clock
        self.policy = DecisionPolicy(threshold=settings.threshold, calibrated=settings.threshold_calibrated,
                                     fmr=settings.fmr, margin=settings.margin, fpir_bound=settings.fpir_bound,
                                     max_attempts=settings.max_attempts)
        self.liveness_rules = LivenessRules(timeout_s=settings.liveness_timeout_s)
        self.demo = demo
        # A still photo can never pass liveness; only the demo may switch it off, and it says so on both screens.
        self.liveness_off = settings.liveness == "demo-off" and demo
        # why face pay must stop although the camera works (sync: erasures not received for too long); "" = go on
        self.refusal: Callable[[], str] = lambda: ""
        if settings.liveness == "demo-off" and not demo:
            self.pipeline_problem = LIVENESS_OFF_REFUSED

    @classmethod
    def from_config(cls, config: Config, keys: EventKeys, journal: Journal | None = None, *,
                    demo: bool = False) -> FacePay:
        """Face pay as configured. The models and the camera load later (`[camera] load`), never here by default:
        the terminal is ready for cards first."""
        settings = config.camera
        gallery = Gallery(Path(config.data_dir) / "face.db", board_gallery_key(keys))
        source = DeferredSource(settings.source)
        face_pay = cls(gallery, settings, None, source, journal, demo=demo,
                       stack=FaceStack(lambda: build_pipeline(settings)))
        if settings.load == "eager":  # as before this setting existed: models and camera before the till opens
            face_pay.stack.load()
            source.opened()
        face_pay.purge_expired()
        return face_pay

    def after_ready(self) -> None:
        """Called once the terminal is ready for cards: `[camera] load = "background"` starts loading now."""
        if self.settings.load == "background":
            self.stack.load_in_background()

    @property
    def pipeline(self) -> FacePipeline | None:
        """The face models; the first use waits until they are loaded (in the caller's thread: the face loop)."""
        return self.stack.load()

    @pipeline.setter
    def pipeline(self, pipeline: FacePipeline | None) -> None:
        self.stack.replace(pipeline)

    @property
    def pipeline_problem(self) -> str:
        return self.stack.problem

    @pipeline_problem.setter
    def pipeline_problem(self, problem: str) -> None:
        self.stack.problem = problem

    # --- status ----------------------------------------------------------------------------------------------------

    def status(self) -> CameraStatus:
        """Never waits for the models: until they are loaded, the camera's own status stands."""
        if self.pipeline_problem == LIVENESS_OFF_REFUSED:
            return CameraStatus(CameraState.BROKEN, LIVENESS_OFF_REFUSED)
        if not self.stack.loaded:
            return self.source.status()
        if self.pipeline is None and isinstance(self.source, NoCamera) and not self.pipeline_problem:
            return self.source.status()  # no camera configured: models were not even loaded
        if self.pipeline is None:
            return CameraStatus(CameraState.BROKEN, self.pipeline_problem or "face pay unavailable")
        return self.source.status()

    @property
    def available(self) -> bool:
        return self.status().usable

    # --- payment ---------------------------------------------------------------------------------------------------

    def start_payment(self, challenge: Challenge | None = None) -> PaymentSession:
        allowed = [Challenge(c) for c in self.settings.challenges]
        return PaymentSession(self, challenge or pick_challenge(allowed))

    def identify(self, frames: Iterable[Frame], challenge: Challenge | None = None) -> Decision:
        session = self.start_payment(challenge)
        progress = Progress(Guidance.NO_FACE)
        for frame in frames:
            progress = session.feed(frame)
            if progress.decision is not None and progress.decision.outcome is not Outcome.RETRY:
                return progress.decision
        return session.give_up(progress.guidance)

    def read_frame(self) -> Frame | None:
        """One frame from the camera, or None (status() says why): never raises into the sale loop."""
        try:
            return self.source.read()
        except Exception as exc:
            self.source = NoCamera(f"camera stopped: {exc}", CameraState.BROKEN)
            return None

    def second_factor(self, decision: Decision) -> SecondFactor:
        if decision.outcome is not Outcome.SECOND_FACTOR:
            raise ValueError("this decision does not ask for a second factor")
        return SecondFactor(decision, self.gallery.factor_table(), attempts_left=self.policy.second_factor_attempts)

    def decide_on(self, probe: np.ndarray) -> Decision:
        refused = self.refusal()
        if refused:  # checked at the match itself, whatever screen asked
            self.journal("face_refused", {"reason": refused})
            return Decision(Outcome.UNAVAILABLE, reason=refused)
        return decide(self.gallery.search(probe, now=int(self.clock())), self.policy)

    # --- enrollment --------------------------------------------------------------------------------------------

    def record_consent(self, account_id: str, consent_text_id: str, operator: str) -> None:
        self.gallery.record_consent(account_id, consent_text_id, operator, int(self.clock()))
        declined = consent_text_id.endswith("/declined")
        self.journal("face_consent", {"account_id": account_id, "text": consent_text_id, "operator": operator,
                                      "confirmed_by": None if declined else "guest_display",
                                      "declined": declined})

    def enroll(self, account_id: str, frames: Iterable[Frame], phone_digits: str = "",
               wristband_uid: str = "") -> EnrollResult:
        if not self.gallery.has_consent(account_id):
            return EnrollResult(EnrollOutcome.NO_CONSENT, account_id)
        if self.pipeline is None:
            return EnrollResult(EnrollOutcome.UNAVAILABLE, account_id)
        if phone_digits and (not phone_digits.isdigit() or len(phone_digits) != self.settings.phone_digits):
            raise ValueError(f"phone digits: exactly {self.settings.phone_digits} digits")
        vectors, guidance = [], []
        for frame in frames:
            obs = self.pipeline.observe(frame.image)
            if not obs.quality.ok:
                guidance.append(obs.quality.guidance)
                continue
            vectors.append(self.pipeline.embed(frame.image, obs.faces[0]))
            if len(vectors) >= self.settings.enroll_frames:
                break
        if len(vectors) < self.settings.enroll_frames:
            return EnrollResult(EnrollOutcome.TOO_FEW_FRAMES, account_id, frames_used=len(vectors),
                                guidance=tuple(guidance))
        template = normalize(np.mean(vectors, axis=0))
        if min(float(v @ template) for v in vectors) < self.policy.threshold:
            return EnrollResult(EnrollOutcome.INCONSISTENT, account_id, frames_used=len(vectors))
        best = self.gallery.search(template, top=2)
        dup = next((c for c in best.candidates if c.account_id != account_id and c.score >= self.policy.threshold),
                   None)
        if dup is not None:
            self.journal("face_enroll", {"account_id": account_id, "outcome": "duplicate", "score": dup.score})
            return EnrollResult(EnrollOutcome.DUPLICATE, account_id, duplicate_of=dup.account_id,
                                frames_used=len(vectors))
        now = int(self.clock())
        from sync.format.face_keys import band_digest

        self.gallery.put(account_id, template, FactorRecord(phone_digits, band_digest(wristband_uid)), now,
                         self.expiry(now))
        self.journal("face_enroll", {"account_id": account_id, "outcome": "enrolled", "frames": len(vectors)})
        return EnrollResult(EnrollOutcome.ENROLLED, account_id, frames_used=len(vectors),
                            template=tuple(float(v) for v in template))

    def expiry(self, enrolled_at: int) -> int:
        return max(self.settings.event_end, enrolled_at) + self.settings.retention_days * DAY

    # --- erasure and bundles --------------------------------------------------------------------------------

    def erase(self, account_id: str, reason: str = "request") -> bool:
        held = self.gallery.erase(account_id, reason, int(self.clock()))
        self.journal("face_erase", {"account_id": account_id, "reason": reason, "held": held})
        return held

    def apply_gallery_changes(self, changes: Iterable[GalleryChange]) -> tuple[int, int]:
        """Apply a bundle's changes; returns (templates stored, erasures). Erasures are confirmed later."""
        now = int(self.clock())
        changes = list(changes)
        last = {c.account_id: c for c in changes}  # an erasure after a put wins, a re-enrollment after an erasure too
        erasures = list(dict.fromkeys(c.account_id for c in changes if c.erase))
        # erasures first (a checked-out guest is gone before anything else of the bundle is applied)
        if erasures:
            self.gallery.erase_many(erasures, "collector", now)
        puts = [(c.account_id, np.asarray(c.template, np.float32),
                 FactorRecord(c.phone_digits, c.wristband_uid.lower(), c.phone_online), now,
                 c.expires_at or self.expiry(now))
                for c in changes if not c.erase and last[c.account_id] is c]
        stored = self.gallery.put_many(puts) if puts else 0
        return stored, len(erasures)

    def pending_erasure_confirmations(self) -> list[Erasure]:
        return self.gallery.pending_erasures()

    def confirm_erasures_sent(self, account_ids: Iterable[str]) -> None:
        self.gallery.confirm_erasures_sent(account_ids, int(self.clock()))

    def purge_expired(self) -> list[str]:
        """Expired templates, and consents and confirmed erasure records past their retention (daily and at start)."""
        now = int(self.clock())
        expired = self.gallery.purge_expired(now)
        self.gallery.purge_records(now, self.settings.consent_keep_days * DAY, self.settings.erasure_keep_days * DAY)
        return expired

    def close(self) -> None:
        self.source.close()
        self.stack.close()
        self.gallery.close()


@dataclass
class PaymentSession:
    """One "Pay with face" attempt sequence: liveness challenge, then 1:N decision, attempts limited."""

    face_pay: FacePay
    challenge: Challenge
    attempts: AttemptCounter = field(init=False)
    liveness: LivenessCheck = field(init=False)
    first_probe: np.ndarray | None = field(default=None, init=False)
    decision: Decision | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.attempts = AttemptCounter(self.face_pay.policy.max_attempts)
        self.liveness = LivenessCheck(self.challenge, self.face_pay.liveness_rules)

    def feed(self, frame: Frame) -> Progress:
        fp = self.face_pay
        if self.decision is not None:
            return Progress(self.decision.guidance or Guidance.OK, self.decision, self.liveness.state.status)
        if fp.pipeline_problem == LIVENESS_OFF_REFUSED or fp.pipeline is None:
            return self._final(Decision(Outcome.UNAVAILABLE, reason=fp.status().detail))
        obs = fp.pipeline.observe(frame.image)
        if fp.liveness_off:  # demo only (see FacePay.liveness_off): decide on the first good frame
            if not obs.quality.ok:
                return Progress(obs.quality.guidance, liveness=Status.PENDING)
            return self._final(fp.decide_on(fp.pipeline.embed(frame.image, obs.faces[0])))
        state = self.liveness.feed(obs.faces, frame.timestamp)
        if state.status is Status.FAILED:
            return self._retry(state.reason)
        if self.first_probe is None:
            if not obs.quality.ok:
                return Progress(obs.quality.guidance, liveness=state.status)
            self.first_probe = fp.pipeline.embed(frame.image, obs.faces[0])
            return Progress(self.challenge.guidance, liveness=state.status)
        if state.status is Status.PENDING:
            return Progress(state.guidance, liveness=state.status)
        # Liveness passed: the face now must be the one we embedded before the challenge (no swap mid-way).
        if not obs.quality.ok:
            return Progress(obs.quality.guidance, liveness=state.status)
        probe = fp.pipeline.embed(frame.image, obs.faces[0])
        if float(probe @ self.first_probe) < fp.policy.threshold:
            return self._retry("face changed during the challenge")
        live = fp.pipeline.live_probability(frame.image, obs.faces[0])
        if live is not None and live < fp.settings.antispoof_min_live:
            return self._retry(f"passive anti-spoofing: live probability {live:.2f}")
        return self._final(fp.decide_on(normalize(probe + self.first_probe)))

    def give_up(self, guidance: Guidance) -> Decision:
        if self.decision is not None:
            return self.decision
        return self._retry("no live face seen", guidance).decision or Decision(Outcome.RETRY)

    def _retry(self, reason: str, guidance: Guidance = Guidance.NO_FACE) -> Progress:
        decision = self.attempts.record(Decision(Outcome.RETRY, reason=reason, guidance=guidance))
        self.face_pay.journal("face_decision", decision.journal_record() | {"challenge": self.challenge.value})
        if decision.outcome is Outcome.LOCKED:
            return self._final(decision, journal=False)
        self.liveness = LivenessCheck(self.challenge, self.face_pay.liveness_rules)
        self.first_probe = None
        return Progress(guidance, decision, Status.FAILED)

    def _final(self, decision: Decision, journal: bool = True) -> Progress:
        decision = self.attempts.record(decision)
        self.decision = decision
        if journal:
            self.face_pay.journal("face_decision", decision.journal_record() | {
                "challenge": "none (demo: liveness off)" if self.face_pay.liveness_off else self.challenge.value})
        return Progress(decision.guidance or Guidance.OK, decision, self.liveness.state.status)


def build_pipeline(settings: CameraSection) -> FacePipeline:
    """MediaPipe landmarks, the embedding model and the optional anti-spoofing model: the slow, large part."""
    from terminal.camera.antispoof import load_antispoof
    from terminal.camera.embedding import SFaceEmbedder
    from terminal.camera.pipeline import FacePipeline

    return FacePipeline(embedder=SFaceEmbedder(settings.model or None),
                        antispoof=load_antispoof(settings.antispoof_model))
