"""Terminal side: upload batches to the collector and fetch the bundle, with retries and back-off.

Each accepted batch returns how far the collector holds the journal, so an
upload cut off half-way resumes from there; re-sending a batch is harmless.
A terminal that never reaches the collector keeps everything.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sync.format.batch import encode
from sync.format.bundle import BundleError
from sync.format.request_signing import request_message
from terminal.uplink.bundle_apply import apply_bundle_bytes
from terminal.uplink.device_report import upload_fields
from terminal.uplink.export import BATCH_SIZE, batches
from terminal.uplink.terminal_side import TerminalSync

log = logging.getLogger(__name__)

class SyncFailed(Exception):
    """The collector could not be reached or refused; the message says which."""


class CollectorClient:
    def __init__(self, url: str, terminal: TerminalSync, *, http: httpx.Client | None = None, attempts: int = 5,
                 backoff_s: float = 0.5, max_backoff_s: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 verify_tls: bool | str = True, batch_size: int = BATCH_SIZE) -> None:
        self.url = url.rstrip("/")
        self.t = terminal
        self.http = http or httpx.Client(base_url=self.url, timeout=30, verify=verify_tls)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.offset = timedelta(0)
        self.batch_size = batch_size

    # --- transport --------------------------------------------------------------

    def _send(self, method: str, path: str, body: bytes = b"", *, signed: bool = True,
              content_type: str = "application/octet-stream", attempts: int | None = None) -> httpx.Response:
        """`attempts`: for this call only (a quick question from the kiosk while the background loop retries)."""
        attempts = self.attempts if attempts is None else attempts
        delay = self.backoff_s
        last: Exception | None = None
        for attempt in range(attempts):
            headers = {"content-type": content_type}
            if signed:
                ts = (datetime.now(UTC) + self.offset).isoformat()
                headers.update({"x-terminal-id": str(self.t.config.terminal.id), "x-timestamp": ts,
                                "x-signature": self.t.key.sign(request_message(method, path, ts, body)).hex()})
            try:
                resp = self.http.request(method, path, content=body, headers=headers)
            except httpx.TransportError as exc:
                last = exc
            else:
                if resp.status_code < 500:
                    return resp
                last = SyncFailed(f"collector error {resp.status_code}")
            if attempt + 1 < attempts:
                self.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.max_backoff_s)
        raise SyncFailed(f"collector unreachable after {attempts} attempts: {last}")

    @staticmethod
    def _detail(resp: httpx.Response) -> str:
        try:
            return str(resp.json().get("detail"))
        except (ValueError, AttributeError):
            return resp.text[:200]

    # --- steps ------------------------------------------------------------------

    def sync_clock(self) -> None:
        resp = self._send("GET", "/api/v1/time", signed=False)
        collector = datetime.fromisoformat(resp.json()["time"].replace("Z", "+00:00"))
        self.offset = collector - datetime.now(UTC)
        self.t.state.set("clock_offset_ms", int(self.offset.total_seconds() * 1000))

    def pair(self, code: str) -> dict[str, Any]:
        resp = self._send("POST", "/api/v1/pair", json.dumps(self.t.pairing_request(code)).encode(), signed=False,
                          content_type="application/json")
        if resp.status_code != 200:
            raise SyncFailed(f"pairing refused: {self._detail(resp)}")
        answer = resp.json()
        self.t.learn_collector_box_key(answer.get("collector_box_key"))
        return answer

    def pair_keys(self, code: str) -> dict[str, Any]:
        """Pairing by code that returns the event keys sealed for this terminal (`sync.format.pairing`): the payload
        (master key, collector key, role, first bundle), not yet installed."""
        from sync.format.pairing import PairingFailed, make_request, open_response

        cfg = self.t.config
        req, ephemeral, key = make_request(code, event_id=cfg.event.id, terminal_id=cfg.terminal.id,
                                           public_key=self.t.public_key, name=cfg.terminal.name,
                                           mode=self.t.requested_role(), face_key=self.t.face_key)
        resp = self._send("POST", "/api/v1/pair/keys", json.dumps(req).encode(), signed=False,
                          content_type="application/json")
        if resp.status_code != 200:
            raise SyncFailed(f"pairing refused: {self._detail(resp)}")
        try:
            return open_response(key, ephemeral, req, resp.json())
        except (PairingFailed, ValueError) as exc:
            raise SyncFailed(str(exc)) from None

    def _json(self, method: str, path: str, payload: dict[str, Any], attempts: int | None = None) -> httpx.Response:
        return self._send(method, path, json.dumps(payload).encode(), content_type="application/json",
                          attempts=attempts)

    def check_face_phone(self, candidates: list[str], digits: str) -> str | None:
        """The collector's answer to typed phone digits: the candidate they confirm, or None (also when it refuses
        more tries). ConnectionError when it cannot be reached: the kiosk then asks for the wristband."""
        try:
            resp = self._json("POST", "/api/v1/face/phone-check", {"candidates": candidates, "digits": digits},
                              attempts=1)
        except SyncFailed as exc:
            raise ConnectionError(str(exc)) from None
        if resp.status_code != 200:
            return None
        found = resp.json().get("account_id")
        return found if isinstance(found, str) and found in candidates else None

    def authorize_face(self, account_id: str, amount: int, request_id: str,
                       attempts: int | None = None) -> dict[str, Any]:
        """Ask the collector to reserve a face payment; SyncFailed when it cannot be reached or refuses the call."""
        resp = self._json("POST", "/api/v1/face/authorize",
                          {"account_id": account_id, "amount": amount, "request_id": request_id}, attempts)
        if resp.status_code != 200:
            raise SyncFailed(f"authorization refused: {self._detail(resp)}")
        return resp.json()

    def replacement_quote(self, card_id: int) -> dict[str, Any]:
        """Block a lost card at the collector and get what its replacement carries (balance, comp part)."""
        resp = self._json("POST", f"/api/v1/terminal/cards/{int(card_id)}/replacement", {}, attempts=1)
        if resp.status_code != 200:
            raise SyncFailed(f"replacement refused: {self._detail(resp)}")
        return dict(resp.json())

    def card_master_key(self, card_id: int) -> bytes:
        """A DESFire band's application master key, released to this cashier terminal to move the band to the
        newest key epoch (sealed to this terminal's box key); SyncFailed when unreachable or refused."""
        from sync.format.face_keys import SealError
        from sync.format.key_epochs import open_card_amk

        resp = self._json("POST", f"/api/v1/terminal/cards/{int(card_id)}/master-key", {}, attempts=1)
        if resp.status_code != 200:
            raise SyncFailed(f"card master key refused: {self._detail(resp)}")
        t = self.t
        body = resp.json()
        try:
            return open_card_amk(t.box, str(t.state.get("collector_box_key") or ""), t.keys.event_id,
                                 t.config.terminal.id,
                                 int(card_id), int(body["epoch"]), str(body["sealed"]))
        except (SealError, KeyError, TypeError, ValueError) as exc:
            raise SyncFailed(f"card master key does not open: {exc}") from None

    def amk_releaser(self) -> Callable[[int], bytes | None]:
        """For `Wallet.release_amk`: one quick attempt; unreachable or refused means the band moves at a later tap."""

        def release(card_id: int) -> bytes | None:
            try:
                return self.card_master_key(card_id)
            except SyncFailed as exc:
                log.info("card %s not moved to the new key epoch now: %s", card_id, exc)
                return None

        return release

    def face_authorizer(self) -> Callable[[str, int], dict[str, Any]]:
        """An authorizer for `FaceAccounts.sale`: one quick attempt; unreachable means fall back to the allowance."""
        import secrets

        from terminal.wallet.face_accounts import CollectorUnreachable

        def ask(account_id: str, amount: int) -> dict[str, Any]:
            # one attempt for this call only: the client may be retrying a sync in the background meanwhile
            try:
                return self.authorize_face(account_id, amount, secrets.token_hex(12), attempts=1)
            except SyncFailed as exc:
                raise CollectorUnreachable(str(exc)) from None

        return ask

    def upload_enrollment(self, account_id: str, sealed_template: str, *, holder: str = "", phone_hash: str = "",
                          wristband_uid: str | None = None, expires_at: int | None = None) -> dict[str, Any]:
        resp = self._json("POST", "/api/v1/face/enrollments", {
            "account_id": account_id, "template": sealed_template, "holder": holder, "phone_hash": phone_hash,
            "wristband_uid": wristband_uid, "expires_at": expires_at})
        if resp.status_code != 200:
            raise SyncFailed(f"enrollment refused: {self._detail(resp)}")
        return resp.json()

    def erase_face(self, account_id: str, reason: str = "request") -> dict[str, Any]:
        resp = self._json("POST", f"/api/v1/face/accounts/{account_id}/erase", {"reason": reason})
        if resp.status_code != 200:
            raise SyncFailed(f"erasure refused: {self._detail(resp)}")
        return resp.json()

    def checkout_face(self, account_id: str) -> dict[str, Any]:
        resp = self._json("POST", f"/api/v1/face/accounts/{account_id}/checkout", {})
        if resp.status_code != 200:
            raise SyncFailed(f"checkout refused: {self._detail(resp)}")
        return resp.json()

    def upload(self) -> dict[str, Any]:
        """Send every batch after the acknowledged sequence; stop at the first refusal. Template erasures done here
        ride in the batches' status (or go by API when there is no batch to send)."""
        sent = 0
        erased = [e.account_id for e in self.t.face_pay().pending_erasure_confirmations()]
        status = {**self.t.status(), **upload_fields(self.t.config.data_dir), "online": True,
                  "time": (datetime.now(UTC) + self.offset).isoformat()}
        if erased:
            status["face_erasures"] = erased
        pending = batches(self.t.journal, self.t.key, after=self.t.state.acked_seq, status=status,
                          batch_size=self.batch_size)
        while True:
            with self.t.db_lock:  # read entries between the card loop's transactions, never inside one
                batch = next(pending, None)
            if batch is None:
                break
            resp = self._send("POST", "/api/v1/batches", encode(batch))
            if resp.status_code != 200:
                raise SyncFailed(f"batch {batch.first_seq}..{batch.last_seq} refused: {self._detail(resp)}")
            self.t.state.acknowledge(self.t.journal, int(resp.json()["acked_seq"]), self.t.policy)
            sent += 1
        if erased and not sent:
            resp = self._json("POST", "/api/v1/face/erasures", {"account_ids": erased})
            if resp.status_code != 200:
                raise SyncFailed(f"erasure confirmations refused: {self._detail(resp)}")
        if erased:  # the collector stored them (batch status or API)
            self.t.face_pay().confirm_erasures_sent(erased)
        return {"batches": sent, "acked_seq": self.t.state.acked_seq, "erasures_confirmed": len(erased)}

    def fetch_bundle(self) -> dict[str, Any]:
        resp = self._send("GET", f"/api/v1/bundle?gallery_after={int(self.t.state.get('face_gallery_seen', 0))}")
        if resp.status_code != 200:
            raise SyncFailed(f"bundle refused: {self._detail(resp)}")
        try:
            with self.t.db_lock:  # hotlist and face snapshot are transactions on the journal's connection
                return apply_bundle_bytes(self.t, resp.content)
        except BundleError as exc:
            raise SyncFailed(f"bundle rejected: {exc}") from None

    def sync_once(self) -> dict[str, Any]:
        self.sync_clock()
        up = self.upload()
        face = self.t.flush_face_uploads(self)  # enrollments and checkouts a cashier made while offline
        return {**up, "face_uploads": face, "bundle": self.fetch_bundle()}

    def run(self, stop: threading.Event, *, interval_s: float = 30.0,
            on_round: Callable[[dict[str, Any] | None, Exception | None], None] | None = None) -> None:
        """Background loop: sync whenever the collector is reachable, back off while it is not.

        `on_round(result, error)` is told the outcome of every round (the kiosk shows it); a failure that is not
        the collector's (a bug, a full disk) is logged and retried like an unreachable collector, so the loop
        never dies quietly while the terminal keeps selling."""
        delay = interval_s
        while not stop.is_set():
            result: dict[str, Any] | None = None
            error: Exception | None = None
            try:
                result = self.sync_once()
                delay = interval_s
            except SyncFailed as exc:
                error = exc
                delay = min(max(delay, interval_s) * 2, max(self.max_backoff_s * 10, interval_s))
            except Exception as exc:
                log.exception("sync round failed")
                error = exc
                delay = min(max(delay, interval_s) * 2, max(self.max_backoff_s * 10, interval_s))
            if on_round is not None:
                try:
                    on_round(result, error)
                except Exception:
                    log.exception("sync round callback failed")
            stop.wait(delay)
