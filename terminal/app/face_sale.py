"""Pay with face at the stall: the camera loop, the liveness challenge, the second factor and the debit.

The till's `Flow` holds where the sale is (face -> face_factor -> processing ->
approved / declined); this class runs the camera while the flow is in *face*,
publishes guidance and camera snapshots (JPEG over the event stream) for both
screens, and moves money exactly once through `FaceAccounts.sale` with the
request id, so a repeated request finds the sale already journaled. The
collector authorizes when it answers; otherwise the offline allowance decides.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from terminal.app.errors import TillError
from terminal.app.flow import FlowError, Phase, Request
from terminal.app.words import N_
from terminal.camera.decision import Decision, Outcome
from terminal.camera.quality import Guidance
from terminal.wallet.declines import record_decline
from terminal.wallet.face_accounts import DECLINE_CODES, FaceDeclined

if TYPE_CHECKING:
    from terminal.app.port import FaceDeskPort
    from terminal.camera.decision import SecondFactor
    from terminal.camera.service import PaymentSession

log = logging.getLogger(__name__)

FRAME_S = 1 / 15  # camera loop pace (a real camera's read() blocks anyway)
SNAPSHOT_S = 0.2  # camera view to the screens at most 5 times a second
SNAPSHOT_WIDTH = 320

GUIDANCE_TEXT = {
    "Hold still": N_("Hold still"),
    "Look at the camera": N_("Look at the camera"),
    "One person at a time, please": N_("One person at a time, please"),
    "Come closer": N_("Come closer"),
    "Move back a little": N_("Move back a little"),
    "Look straight at the camera": N_("Look straight at the camera"),
    "Hold still for a moment": N_("Hold still for a moment"),
    "More light needed": N_("More light needed"),
    "Too bright: step out of the glare": N_("Too bright: step out of the glare"),
    "Blink, please": N_("Blink, please"),
    "Turn your head to your left": N_("Turn your head to your left"),
    "Turn your head to your right": N_("Turn your head to your right"),
    "not_recognised": N_("Not recognised: look at the camera"),
    "liveness_retry": N_("Look at the camera and blink"),
    "factor": N_("Confirm: last digits of your phone, or tap your wristband"),
    "factor_wrong": N_("Not confirmed: %(n)s tries left"),
    "factor_offline": N_("Phone digits need the network here: tap your wristband"),
    "first_use": N_("First payment by face here: enter the last %(n)s digits of your phone"),
}
NO_FACE_TEXT = N_("No face seen: back to the cart. Pay with your wristband or try again")
# the distance cue drawn around the oval: where the guest should move
DISTANCE = {"Come closer": "closer", "Move back a little": "back", "Look at the camera": "none",
            "One person at a time, please": "none", "not_recognised": "none"}


def camera_jpeg(image: Any) -> bytes | None:
    """A small JPEG of a camera frame for the screens (never stored: the view is live only)."""
    import cv2

    h, w = image.shape[:2]
    small = cv2.resize(image, (SNAPSHOT_WIDTH, max(1, h * SNAPSHOT_WIDTH // w)), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return jpeg.tobytes() if ok else None


class FaceSaleDesk:
    """One face payment at a time: the camera loop while the flow is in *face*, then one debit."""

    def __init__(self, till: FaceDeskPort) -> None:
        self.till = till
        self.frame_s = FRAME_S
        self.generation = 0
        self.session: PaymentSession | None = None
        self.factor: SecondFactor | None = None
        self.guidance = ""  # key of GUIDANCE_TEXT
        self.guidance_values: dict[str, Any] = {}
        self.attempts_left = 0
        self._liveness_failures = 0
        self._no_match = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.last_answer: dict[str, Any] | None = None

    # --- view ------------------------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        fp = self.till.face
        status = fp.status() if fp is not None else None
        text = ""
        if self.guidance:
            text = self.till.tr(GUIDANCE_TEXT.get(self.guidance, self.guidance)) % self.guidance_values \
                if self.guidance_values else self.till.tr(GUIDANCE_TEXT.get(self.guidance, self.guidance))
        second = fp.settings.second_factor if fp is not None else "either"
        return {"available": bool(status and status.usable), "status": status.detail if status else "no camera",
                "guidance": self.guidance, "guidance_text": text,
                "distance": DISTANCE.get(self.guidance, "ok") if self.guidance else "none",
                "attempts_left": self.attempts_left,
                "liveness_off": bool(fp is not None and fp.liveness_off),
                "paused": fp.refusal() if fp is not None else "",
                "factor_phone": second in ("phone", "either"), "factor_wristband": second in ("wristband", "either"),
                "phone_digits": fp.settings.phone_digits if fp is not None else 4}

    # --- start / stop ----------------------------------------------------------------------------------------

    def start(self, request: Request) -> bool:
        """Called with the till's lock held: arm the request on the camera and start the loop."""
        fp = self.till.face
        if fp is None or not fp.available:
            raise TillError("no_camera", self.till.tr(N_("Face pay is not available: pay with your wristband")))
        if fp.refusal():  # privacy: erasures may be waiting (terminal.uplink.face_window); the matcher refuses too
            raise TillError("face_sync_window", self.till.tr(N_(
                "Face pay is paused until this terminal syncs with the collector: pay with your wristband")))
        try:
            started = self.till.flow.start_face(request)
        except FlowError as exc:
            raise TillError(exc.code, self.till.tr(N_("Another payment is in progress"))) from None
        if started:
            self.generation += 1
            self.session = fp.start_payment()
            self.factor = None
            self.attempts_left = fp.policy.max_attempts
            self._liveness_failures = self._no_match = 0
            self._set_guidance(self.session.challenge.guidance.value if fp.liveness_off is False
                               else "Look at the camera")
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, args=(self.generation,), name="face-pay", daemon=True)
            self._thread.start()
        return started

    def stop(self) -> None:
        """The flow left the camera (cancel, back to wristband, result): the loop ends at its next frame."""
        self.generation += 1
        self.session = None

    def close(self) -> None:
        self._stop.set()
        self.stop()
        if self._thread is not None:
            self._thread.join(5)

    def _set_guidance(self, key: str, **values: Any) -> bool:
        changed = key != self.guidance or values != self.guidance_values
        self.guidance, self.guidance_values = key, values
        return changed

    def _current(self, generation: int, *phases: Phase) -> bool:
        return generation == self.generation and self.till.flow.phase in phases

    # --- the camera loop -------------------------------------------------------------------------------------

    def _loop(self, generation: int) -> None:
        till, fp = self.till, self.till.face
        assert fp is not None
        last_snapshot = 0.0
        face_seen = time.monotonic()  # nobody in front of the camera for no_face_timeout_s: give up
        while not self._stop.is_set():
            started = time.monotonic()
            if started - face_seen > fp.settings.no_face_timeout_s:
                self._refuse(generation, "no_face", till.tr(NO_FACE_TEXT))
                return
            with till.lock:
                if not self._current(generation, Phase.FACE) or self.session is None:
                    return
                session = self.session
            frame = fp.read_frame()
            if frame is None:
                self._refuse(generation, "face_unavailable", fp.status().detail)
                return
            if started - last_snapshot >= SNAPSHOT_S:
                last_snapshot = started
                self._snapshot(frame.image)
            try:
                progress = session.feed(frame)
            except Exception as exc:  # a face-stack fault ends face pay for this sale, never the terminal
                log.exception("face pay failed")
                self._refuse(generation, "face_unavailable", str(exc))
                return
            if progress.decision is not None or progress.guidance is not Guidance.NO_FACE:
                face_seen = started
            if not self._decided(generation, session, progress):
                return
            self._stop.wait(max(0.0, self.frame_s - (time.monotonic() - started)))

    def _decided(self, generation: int, session: PaymentSession, progress: Any) -> bool:
        """Act on one frame's progress; False when the loop is done."""
        till, fp = self.till, self.till.face
        assert fp is not None
        decision: Decision | None = progress.decision
        if decision is None or decision.outcome is Outcome.RETRY:
            with till.lock:
                if not self._current(generation, Phase.FACE):
                    return False
                if decision is not None:
                    self._liveness_failures += 1
                    self.attempts_left = max(0, fp.policy.max_attempts - session.attempts.failures)
                    changed = self._set_guidance("liveness_retry")
                else:
                    changed = self._set_guidance(progress.guidance.value)
            if changed or decision is not None:
                till.publish()
            return True
        guidance = "factor"
        if decision.outcome is Outcome.ACCEPT and self._needs_binding(str(decision.account_id)):
            decision = Decision(Outcome.SECOND_FACTOR, score=decision.score, candidates=decision.candidates,
                                reason="first use: binding by phone digits")
            guidance = "first_use"
        if decision.outcome is Outcome.ACCEPT:
            self.pay(generation, str(decision.account_id), decision.score, None)
            return False
        if decision.outcome is Outcome.SECOND_FACTOR:
            with till.lock:
                if not self._current(generation, Phase.FACE):
                    return False
                self.factor = fp.second_factor(decision)
                client = self.till.collector
                self.factor.phone_check = client.check_face_phone if client is not None else None
                self.attempts_left = self.factor.attempts_left
                till.flow.face_factor()
                self._set_guidance(guidance, **({"n": fp.settings.phone_digits} if guidance == "first_use" else {}))
            till.publish()
            return False
        if decision.outcome is Outcome.NO_MATCH:
            with till.lock:
                if not self._current(generation, Phase.FACE):
                    return False
                self._no_match += 1
                fresh = fp.start_payment()
                fresh.attempts = session.attempts  # attempts count over the whole payment
                self.session = fresh
                self.attempts_left = max(0, fp.policy.max_attempts - session.attempts.failures)
                self._set_guidance("not_recognised")
            till.publish()
            return True
        if decision.outcome is Outcome.LOCKED:
            liveness = self._liveness_failures > 0 and self._no_match == 0
            self._refuse(generation, "liveness_failed" if liveness else "face_locked", decision.reason)
            return False
        self._refuse(generation, "face_unavailable", decision.reason)
        return False

    def _needs_binding(self, account_id: str) -> bool:
        """First payment of this face here, with phone digits on record: confirm them once (the face-pay POS
        "binding"); afterwards the face alone pays. A face enrolled without digits pays alone from the start."""
        fp = self.till.face
        if fp is None or not fp.settings.bind_on_first_use or self.till.face_accounts.has_paid(account_id):
            return False
        factors = fp.gallery.factor_table().get(account_id)
        return bool(factors is not None and (factors.phone_digits or factors.phone_online))

    def _snapshot(self, image: Any) -> None:
        jpeg = camera_jpeg(image)
        if jpeg is not None:
            self.till.events.publish("camera", {"jpeg": base64.b64encode(jpeg).decode("ascii")})

    # --- second factor ---------------------------------------------------------------------------------------

    def phone_digits(self, digits: str) -> None:
        with self.till.lock:
            if self.till.flow.phase is not Phase.FACE_FACTOR or self.factor is None:
                raise TillError("bad_state", self.till.tr(N_("No face payment is waiting for a second factor")))
            try:
                decision = self.factor.with_phone_digits(digits)
            except ValueError:
                raise TillError("bad_request", self.till.tr(N_("Enter digits only")), 400) from None
            generation = self.generation
        self._factor_result(generation, decision, "phone")

    def wristband(self, uid_hex: str) -> None:
        """A wristband tapped while the second factor is asked (called by the card loop)."""
        with self.till.lock:
            if self.till.flow.phase is not Phase.FACE_FACTOR or self.factor is None:
                return
            decision = self.factor.with_wristband(uid_hex)
            generation = self.generation
        self._factor_result(generation, decision, "wristband")

    def _factor_result(self, generation: int, decision: Decision, how: str) -> None:
        if decision.outcome is Outcome.ACCEPT:
            self.pay(generation, str(decision.account_id), decision.score, how)
        elif decision.outcome is Outcome.LOCKED:
            self._refuse(generation, "face_locked", decision.reason)
        else:
            with self.till.lock:
                assert self.factor is not None
                self.attempts_left = self.factor.attempts_left
                self._set_guidance("factor_wrong", n=self.factor.attempts_left)
            self.till.publish()

    # --- results ---------------------------------------------------------------------------------------------

    def _refuse(self, generation: int, code: str, detail: str) -> None:
        till = self.till
        with till.lock:
            if not self._current(generation, Phase.FACE, Phase.FACE_FACTOR):
                return
            request = till.flow.request
            till.flow.face_refused(code, detail)
            self.stop()
        if request is not None:
            try:
                record_decline(till.journal, code, detail[:200], amount=request.amount, operator=request.operator,
                               face=True, request_id=request.id)
            except Exception:
                log.exception("could not journal the face decline")
        till.signal("declined")
        till.publish()

    def pay(self, generation: int, account_id: str, score: float | None, second_factor: str | None) -> None:
        """Bind the sale to the account and debit it once (the request id makes a repeat find the same sale)."""
        till = self.till
        with till.lock:
            if not self._current(generation, Phase.FACE, Phase.FACE_FACTOR):
                return
            request = till.flow.request
            assert request is not None
            till.flow.face_matched(account_id)
            self.stop()
        till.publish()
        self.last_answer = None
        try:
            sale = till.face_accounts.sale(account_id, request.amount, score=score, second_factor=second_factor,
                                            operator=request.operator, items=list(request.items),
                                            authorize=self._authorizer(), request_id=request.id)
        except FaceDeclined as exc:
            code = DECLINE_CODES.get(exc.reason, "collector_refused")
            missing = None
            if code == "insufficient_funds":
                available = exc.plan.available if exc.plan is not None else (self.last_answer or {}).get("available")
                missing = request.amount - int(available) if isinstance(available, int) else None
            with till.lock:
                till.flow.declined(code, exc.reason, missing=missing, face_account=account_id)
            till.signal("declined")
        except Exception as exc:  # nothing was journaled as a sale: say so, never leave the flow stuck
            log.exception("face sale failed")
            with till.lock:
                till.flow.declined("face_unavailable", str(exc), face_account=account_id)
            till.signal("error")
        else:
            result = {"op": "sale", "amount": request.amount, "journal_seq": sale.entry["seq"], "method": "face",
                      "face_account": account_id, "online": sale.online, "balance_after": sale.balance_after}
            till.approved(request, result, 0)
        till.publish()

    def _authorizer(self) -> Any:
        client = self.till.collector
        if client is None:
            return None
        ask = client.face_authorizer()

        def authorize(account_id: str, amount: int) -> dict[str, Any]:
            answer = ask(account_id, amount)
            self.last_answer = answer
            return answer

        return authorize

    def back_to_card(self) -> None:
        with self.till.lock:
            try:
                self.till.flow.face_back()
            except FlowError as exc:
                raise TillError(exc.code, exc.message) from None
            self.stop()
        self.till.publish()
