"""Face accounts at the cashier: consent, enrollment, top-up, balance and history, checkout with erasure.

Consent is shown (in the guest's language) and recorded before the camera
takes a frame. Enrollment reads several frames, which `FacePay.enroll` gates
on quality and checks against the gallery for a face already enrolled. The
template then travels to the collector sealed for the collector alone
(`TerminalSync.seal_enrollment`): at once when the collector answers, otherwise queued for the next sync.
Checkout pays out what is left and erases the template here at once, and on
the collector (which erases it on every terminal) now or at the next sync.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from terminal.app.errors import TillError
from terminal.app.face_guest_consent import GuestConsent, PendingConsent
from terminal.app.face_sale import camera_jpeg
from terminal.app.words import N_, gettext, when
from terminal.settings_store import CHOICES
from terminal.wallet.face_accounts import DECLINE_CODES, FaceDeclined

if TYPE_CHECKING:
    from terminal.app.port import FaceDeskPort
    from terminal.camera.frames import Frame

log = logging.getLogger(__name__)

CONSENT_TEXT_ID = "face-consent-v1"
CONSENT_TEXT = N_("I agree that this event stores a template of my face (numbers, not a photo) so that I can pay "
                  "by looking at the camera. It is erased at checkout, or %(days)s days after the event at the "
                  "latest. I can pay with a wristband instead.")
AGREE_TEXT, DECLINE_TEXT = N_("I agree"), N_("No")
FROZEN_TEXT = N_("This face account is frozen: no payments or top-ups until the organizer unfreezes it")
ENROLL_MAX_FRAMES = 45  # frames read while looking for enough good ones
OUTCOME_TEXT = {
    "enrolled": N_("Face enrolled"),
    "no consent recorded": N_("Record the guest's consent first"),
    "not enough good frames": N_("Not enough good pictures: look at the camera"),
    "frames show different faces": N_("The pictures show different faces: try again"),
    "face already enrolled": N_("This face is already enrolled as %(account)s"),
    "face pay unavailable": N_("Face pay is not available: pay with your wristband"),
}


LANGUAGES = CHOICES["language"]


class FaceCashierDesk:
    """The cashier's face-account jobs; money through `FaceAccounts`, erasure through the face stack."""

    def __init__(self, till: FaceDeskPort) -> None:
        self.till = till
        self.linking: str | None = None  # account whose wristband the next tap links (enrollment form)
        self.linked_uid: str = ""
        self._lock = threading.Lock()
        self.guest = GuestConsent(self._face)

    def consent_texts(self) -> dict[str, str]:
        days = self.retention_days()
        return {lang: gettext(lang, CONSENT_TEXT) % {"days": days} for lang in LANGUAGES}

    def retention_days(self) -> int:
        """The collector's retention (from the last bundle) when known, else the configuration's."""
        from sync.format.face_consent import retention_days

        sync = self.till.sync
        return retention_days(sync.state.get("bundle_settings") if sync is not None else None,
                              self.till.config.camera.retention_days)

    def _face(self) -> Any:
        if self.till.face is None:
            raise TillError("no_camera", self.till.tr(OUTCOME_TEXT["face pay unavailable"]))
        return self.till.face

    # --- enrollment --------------------------------------------------------------------------------------------

    def record_consent(self, operator: str, language: str) -> dict[str, Any]:
        """A new face account whose consent text goes to the customer display, waiting for the guest's answer."""
        account_id = f"F{self.till.config.terminal.id}-{secrets.token_hex(4)}"
        from sync.format.face_consent import consent_record_id

        self._face()
        text = self.consent_texts().get(language, "")
        record_id = consent_record_id(CONSENT_TEXT_ID, language, text, self.retention_days())
        self.guest.ask(PendingConsent(account_id, language, text, record_id, operator, 0.0,
                                      gettext(language, AGREE_TEXT), gettext(language, DECLINE_TEXT)))
        self.till.publish()
        return {"account_id": account_id, "status": "waiting",
                "text": self.till.tr(N_("Waiting for the guest to confirm on the customer display"))}

    def guest_answer(self, account_id: str, agreed: bool) -> dict[str, Any]:
        status = self.guest.answer(account_id, agreed)
        self.till.publish()
        return {"account_id": account_id, "status": status}

    def consent_status(self, account_id: str) -> dict[str, Any]:
        expired = self.guest.expire()
        if expired:
            self.till.publish()
        status = self.guest.status(account_id)
        texts = {"waiting": N_("Waiting for the guest to confirm on the customer display"),
                 "agreed": N_("The guest agreed: capture the face"),
                 "declined": N_("The guest declined: nothing is enrolled"),
                 "timeout": N_("No answer from the guest: nothing is enrolled")}
        return {"account_id": account_id, "status": status,
                "text": self.till.tr(texts[status]) if status in texts else ""}

    def link_next_tap(self, account_id: str) -> None:
        self.linking, self.linked_uid = account_id, ""
        self.till.publish()

    def tapped(self, uid_hex: str) -> bool:
        """The card loop saw a wristband while idle: link it when the enrollment form asked for one."""
        if self.linking is None:
            return False
        self.linked_uid, self.linking = uid_hex.lower(), None
        return True

    def preview_jpeg(self) -> bytes | None:
        """The live camera view while the cashier enrolls a guest (after consent): one frame, as JPEG."""
        frame = self._face().read_frame()
        return None if frame is None else camera_jpeg(frame.image)

    def frames(self) -> Iterator[Frame]:
        fp = self._face()
        for _ in range(ENROLL_MAX_FRAMES):
            frame = fp.read_frame()
            if frame is None:
                return
            yield frame

    def enroll(self, account_id: str, phone_digits: str, wristband_uid: str) -> dict[str, Any]:
        fp = self._face()
        if not fp.gallery.has_consent(account_id):
            raise TillError("no_consent", self.till.tr(
                N_("The guest has not confirmed consent on the customer display: nothing was captured")), 409)
        try:
            result = fp.enroll(account_id, self.frames(), phone_digits=phone_digits.strip(),
                               wristband_uid=wristband_uid.strip())
        except ValueError as exc:
            raise TillError("bad_request", str(exc), 400) from None
        text = self.till.tr(OUTCOME_TEXT.get(result.outcome.value, result.outcome.value)) % {
            "account": result.duplicate_of or ""}
        answer: dict[str, Any] = {"outcome": result.outcome.value, "text": text, "account_id": account_id,
                                  "duplicate_of": result.duplicate_of, "frames_used": result.frames_used}
        if result.template:
            answer["collector"] = self._send_template(account_id, result.template, phone_digits.strip(),
                                                      wristband_uid.strip(), fp.expiry(int(fp.clock())))
        self.till.publish()
        return answer

    def _send_template(self, account_id: str, template: tuple[float, ...], phone_digits: str, wristband_uid: str,
                       expires_at: int) -> str:
        """Seal the template for the collector; upload now or queue it for the next sync. Returns "sent"/"queued"."""
        sync = self.till.sync
        if sync is None:
            return "kept"
        # sealed for the collector alone; the digits travel only inside (the collector keeps a slow keyed hash)
        from sync.format.face_keys import SealError

        try:
            sealed = sync.seal_enrollment(account_id, template, phone_digits, wristband_uid)
        except SealError as exc:  # not paired: the template stays in this terminal's gallery only
            log.warning("enrollment kept on this terminal: %s", exc)
            return "kept"
        item = {"account_id": account_id, "template": sealed, "wristband_uid": wristband_uid.lower() or None,
                "expires_at": expires_at}
        client = self.till.collector
        if client is not None:
            from terminal.uplink.client import SyncFailed

            try:
                sync.send_enrollment(client, item)
                return "sent"
            except SyncFailed as exc:
                log.warning("enrollment upload failed, queued for the next sync: %s", exc)
        sync.queue_enrollment(item)
        return "queued"

    # --- money -------------------------------------------------------------------------------------------------

    def account(self, account_id: str) -> dict[str, Any]:
        """Balance as this terminal knows it and the account's movements in its journal."""
        till, accounts = self.till, self.till.face_accounts
        snap = accounts.snapshot(account_id)
        balance = accounts.balance(account_id) or 0
        enrolled = till.face is not None and account_id in till.face.gallery
        history = [{"seq": e["seq"], "op_text": till.tr({"topup": N_("Top-up"), "sale": N_("Sale"),
                                                           "close": N_("Refund")}.get(e["op"], e["op"])),
                    "amount_fmt": till.money(e["amount"]), "method": e["method"] or "",
                    "time_fmt": when(e["time"], till.language)} for e in accounts.movements(account_id)]
        return {"account_id": account_id, "balance": balance, "balance_fmt": till.money(balance),
                "synced": snap is not None, "enrolled": enrolled, "history": history,
                "frozen": accounts.is_frozen(account_id),  # at the collector, as of the last bundle
                "spendable_fmt": till.money(accounts.spendable(account_id))}

    def topup(self, operator: str, account_id: str, amount: int, method: str, request_id: str) -> dict[str, Any]:
        """Load money once per request id: a repeated request (double click, or re-sent after a restart) finds
        the top-up in the journal and answers with it, without a second credit or receipt."""
        accounts = self.till.face_accounts
        with self._lock:
            done = accounts.entry_for_request("topup", request_id)
            try:
                entry = done or accounts.topup(account_id, amount, method=method, operator=operator,
                                               request_id=request_id)
            except FaceDeclined as exc:  # outside the event's dates or frozen: journaled, nothing credited
                code = DECLINE_CODES.get(exc.reason, "face_declined")
                if code == "outside_event":
                    raise TillError(code, self.till.tr(N_(
                        "Outside the event's dates: no sales or top-ups now, refunds still work")), 403) from None
                raise TillError(code, self.till.tr(FROZEN_TEXT)) from None
            answer = {"journal_seq": entry["seq"], **self.account(account_id)}
        if done is None:
            self.till.print_later(entry["seq"], 0)  # the guest's receipt: loaded, balance now
            self.till.publish()
        return answer

    def checkout(self, operator: str, account_id: str) -> dict[str, Any]:
        """Refund what is left and erase the template: here at once, on the collector now or at the next sync."""
        till = self.till
        refund, online = None, False
        client = till.collector
        if client is not None:
            from terminal.uplink.client import SyncFailed

            try:
                refund, online = int(client.checkout_face(account_id)["refund"]), True
            except (SyncFailed, KeyError, ValueError, TypeError) as exc:
                log.warning("collector checkout failed, done locally: %s", exc)
        left = 0
        if refund is None:  # offline: pay out only what is certain, the collector pays the rest after sync
            refund = till.face_accounts.certain_refund(account_id)
            left = max(0, self.account(account_id)["balance"] - refund)
            if till.sync is not None:
                till.sync.queue_erasure(account_id, "checkout")
        entry = till.face_accounts.checkout(account_id, refund, operator=operator, left_for_collector=left)
        erased = till.face.erase(account_id, "checkout") if till.face is not None else False
        till.print_later(entry["seq"], 0)  # the refund receipt
        till.publish()
        text = till.tr(N_("Pay out %(amount)s; the face template is erased")) % {"amount": till.money(refund)}
        if left:
            text += ". " + till.tr(N_("Up to %(left)s more is paid by the organizer once every terminal has "
                                       "synced")) % {"left": till.money(left)}
        return {"account_id": account_id, "refund": refund, "refund_fmt": till.money(refund), "erased": erased,
                "text": text,
                "collector": "done" if online else "queued", "journal_seq": entry["seq"], "left_for_collector": left}
