"""The running terminal behind the screens: flow, cart, operator session, wallet, printer, lights.

HTTP handlers call the kiosk to change what is asked; the card loop calls
`handle_tap` with each card. Every change publishes the whole state as one
server-sent event, so every screen (vendor, customer display, a reloaded
page) renders the same truth; results are re-read from the journal.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from datetime import time as dtime
from typing import Any

from terminal.app import (
    KIND_PERMISSION,
    Cart,
    CartError,
    Catalogue,
    Flow,
    FlowError,
    Permission,
    Phase,
    Request,
    Session,
    TapAction,
)
from terminal.app.card_desk import CardDesk, printed_id
from terminal.catalogue_store import CatalogueStore
from terminal.operators import LoginFailed, OperatorStore
from terminal.settings_store import CHOICES, SettingsStore
from terminal.station import Station
from terminal.ui.events import EventHub
from terminal.ui.i18n import N_, gettext, money, when, when_short
from terminal.ui.settings import LANGUAGES
from terminal.wallet.card import CardError, PurseTag, UnsupportedCard
from terminal.wallet.operations import Outcome, TapAgain
from terminal.wallet.roles import credit_operation
from terminal.wallet.rules import TOPUP_METHODS, Declined

log = logging.getLogger(__name__)

MODES = CHOICES["mode"]
RECEIPT_POLICIES = CHOICES["receipt"]
MONEY_OPS = ("issue", "topup", "sale", "void", "close")
MONEY_KEYS = ("amount", "balance_before", "balance_after", "missing", "refund", "forfeited_comp", "balance",
              "complimentary", "refundable", "spent", "total", "unit_price")

DECLINE_TEXT = {
    "insufficient_funds": N_("Insufficient funds: balance %(balance)s, %(missing)s missing"),
    "amount_changed": N_("The balance changed since it was shown: tap the wristband again to see it"),
    "other_card": N_("This is not the wristband whose refund was shown"),
    "blocked": N_("This wristband is blocked: keep it and send the guest to the cashier"),
    "wrong_event": N_("This wristband belongs to another event"),
    "blank": N_("This wristband has not been issued yet"),
    "closed": N_("This wristband was closed and refunded"),
    "over_max_sale": N_("Amount is above the limit for one sale"),
    "over_max_balance": N_("The balance would exceed the maximum allowed"),
    "already_issued": N_("This wristband is already issued: use top-up"),
    "nothing_to_void": N_("There is no sale on this wristband to void"),
    "void_other_terminal": N_("The last sale on this wristband was made at another terminal"),
    "void_window_passed": N_("Too late to void this sale"),
    "tampered": N_("This wristband was refused: data not valid"),
    "locked_card": N_("This card is not one of ours"),
    "rollback": N_("This wristband is blocked: report to the organiser"),
    "cloned": N_("This wristband is blocked: report to the organiser"),
    "unsupported": N_("This card cannot be used here"),
    "invalid_amount": N_("Invalid amount"),
    "invalid_method": N_("Unknown payment method"),
    "liveness_failed": N_("Liveness check failed: look at the camera and blink"),
    "face_locked": N_("Face not recognised: pay with your wristband"),
    "over_allowance": N_("Over the offline allowance for face pay: pay with your wristband"),
    "no_face_balance": N_("No balance known for this face account yet: pay with your wristband"),
    "face_unavailable": N_("Face pay is not available: pay with your wristband"),
    # roles, limits and keys (terminal.wallet.roles, rules, epochs)
    "not_permitted": N_("Not allowed for your role"),
    "not_permitted_mode": N_("This terminal is not enrolled for this operation"),
    "unknown_operator": N_("Unknown operator: log in again"),
    "over_limit": N_("This wristband was refused: it is above the event's limits. Report to the organiser"),
    "over_credit_ceiling": N_("This terminal has reached its credit limit for today"),
    "card_full": N_("This wristband is full: exchange it at the cashier"),
    "card_refused": N_("The card refused this terminal's key"),
    "no_key": N_("This terminal holds no key for this: use a cashier point"),
    "out_of_card_ids": N_("This terminal cannot issue more wristbands: issue at another terminal"),
    "newer_epoch": N_("This wristband carries newer keys: sync this terminal"),
    "old_epoch": N_("This wristband carries keys from before a key change: exchange it at the cashier"),
    "rekey_interrupted": N_("The wristband's key change was interrupted: tap it again"),
}
NOTICE_TEXT = {
    "processing": N_("Processing: keep the wristband still"),
    "wrong_card": N_("Another wristband: tap the SAME wristband again"),
    "already_done": N_("Already done: this wristband was not charged again"),
    "read_failed": N_("Wristband moved away too soon: tap again"),
}
KIND_TEXT = {
    "sale": N_("Sale"), "void": N_("Void"), "issue": N_("Issue wristband"), "topup": N_("Top-up"),
    "close": N_("Close and refund"), "replace": N_("Replace lost wristband"),
}
METHOD_TEXT = {"cash": N_("Cash"), "card": N_("Card terminal"), "voucher": N_("Voucher"),
               "comp": N_("Complimentary")}
ROLE_TEXT = {"vendor": N_("vendor"), "cashier": N_("cashier"), "supervisor": N_("supervisor")}
OP_TEXT = {"issue": N_("Issue"), "topup": N_("Top-up"), "sale": N_("Sale"), "void": N_("Void"),
           "close": N_("Refund"), "replace": N_("Replacement"), "correct": N_("Correction")}


class KioskError(Exception):
    """A request the screen made that cannot be done now; `status` is the HTTP status to answer with."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class Kiosk:
    def __init__(self, station: Station, operators: OperatorStore, *, demo: bool = False, printer: Any = None,
                 feedback: Any = None, clock: Callable[[], float] = time.time, face: Any = None) -> None:
        self.station = station
        self.config = station.config
        self.wallet = station.wallet
        self.journal = station.wallet.journal
        self.currency = self.config.event.currency
        self.operators = operators
        data_dir = self.config.data_dir
        self.catalogue_store = CatalogueStore(data_dir / "catalogue.db", seed=self.config.catalogue)
        self.flow = Flow()
        self.cart = Cart()
        self.session: Session | None = None
        self.demo = demo
        self.printer = printer
        self.printer_problem: str | None = None
        self.feedback = feedback
        self.events = EventHub()
        self.balance_view: dict[str, Any] | None = None
        self.reader_ok = True
        self.reader_message = ""
        self.last_job: int | None = None
        self.timings: deque[dict[str, float]] = deque(maxlen=100)  # tap -> published, for the benchmark
        self._clock = clock
        self._lock = threading.RLock()
        self._receipts = ThreadPoolExecutor(1, thread_name_prefix="receipts")
        self.settings = SettingsStore(data_dir / "settings.db", legacy_json=data_dir / "ui-state.json")
        default_mode = self.config.terminal.mode if self.config.terminal.mode in MODES else "sale"
        self.mode = self.settings.get("mode", default_mode)
        self.language = self.settings.get("language", self.config.ui.language)
        self.receipt_policy = self.settings.get("receipt", self.config.printer.receipt)
        self.last_seq: int | None = None  # journal entry of the last approved result: its receipt on request
        self.last_job_seq: int | None = None
        self.last_spent = 0
        if printer is not None:
            printer.queue.subscribe(self._printer_event)
            self._apply_receipt_policy()
        # Face pay: the FacePay (None = no face stack at all), face-account money, the sale and cashier desks.
        # `sync` / `collector` are set when the terminal knows its collector (online authorization, uploads).
        from terminal.ui.face_cashier import FaceCashierDesk
        from terminal.ui.face_sale import FaceSaleDesk
        from terminal.wallet.face_accounts import FaceAccounts

        self.face = face
        self.face_accounts = FaceAccounts(self.journal, allowance=self.config.camera.offline_allowance)
        self.face_sale = FaceSaleDesk(self)
        self.face_cashier = FaceCashierDesk(self)
        self.sync: Any = None
        self.collector: Any = None
        self.sync_panel: Any = None  # terminal.ui.sync_status.SyncPanel: sync status and the sales limit
        self.face_shared_pipeline = False
        self.card_desk = CardDesk(self.journal, self.wallet.hotlist, clock=clock)
        self.tap_again_at: float | None = None

    @property
    def catalogue(self) -> Catalogue:
        """The current catalogue (re-read when a supervisor or a bundle changed it)."""
        return self.catalogue_store.catalogue()

    # --- state for the screens ---------------------------------------------------------------

    def _(self, message: str) -> str:
        return gettext(self.language, message)

    def tr(self, message: str) -> str:
        """Translate a message marked elsewhere with N_ (a variable, so extraction must not look here)."""
        return gettext(self.language, message)

    def money(self, amount: int | None) -> str:
        return money(amount, self.currency, self.language)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            flow = self.flow.snapshot()
            flow["result"] = self._journal_truth(flow["result"])
            flow["text"] = self._flow_text(flow)
            if flow["request"]:
                flow["request"]["amount_fmt"] = self.money(flow["request"]["amount"])
                flow["request"]["kind_text"] = self.tr(KIND_TEXT[flow["request"]["kind"]])
            flow["leave_after_s"] = self._leave_after()
            operator = None
            if self.session is not None:
                operator = {"id": self.session.operator, "name": self.session.name, "role": self.session.role.value}
            return {
                "flow": flow,
                "cart": self._cart_view(),
                "balance": self._formatted(self.balance_view) if self.balance_view else None,
                "operator": operator,
                "mode": self.mode,
                "language": self.language,
                "receipt_policy": self.receipt_policy,
                "currency": self.currency,
                "printer": {"problem": self.printer_problem, "queued_text": self._queued_text()},
                "reader": {"ok": self.reader_ok, "message": self.reader_message},
                "recent": self.recent(5),
                "demo": self.demo,
                "face": self.face_sale.view() | {"linking": self.face_cashier.linking,
                                                 "linked_uid": self.face_cashier.linked_uid,
                                                 "consent": self.face_cashier.guest.view()},
                "sync": self.sync_panel.view() if self.sync_panel is not None else None,
            }

    def _queued_text(self) -> str:
        """On the approved panel while the printer is down: the receipt waits in the queue, the sale is done."""
        if not self.printer_problem:
            return ""
        return self.tr(N_("Receipt queued: it prints when the printer is back")) + f" ({self.printer_problem})"

    def publish(self) -> None:
        self.events.publish("state", self.snapshot())

    def _cart_view(self) -> dict[str, Any]:
        lines = [{"index": i, "sku": line.sku, "name": line.name, "qty": line.qty,
                  "unit_price_fmt": self.money(line.unit_price), "total_fmt": self.money(line.total)}
                 for i, line in enumerate(self.cart.lines)]
        return {"lines": lines, "total": self.cart.total, "total_fmt": self.money(self.cart.total)}

    def _journal_truth(self, result: dict[str, Any]) -> dict[str, Any]:
        """What the screen shows after a result comes from the committed journal entry, not from memory."""
        out = dict(result)
        seq = out.get("journal_seq")
        if isinstance(seq, int):
            entry = self.journal.get(seq)
            if entry is not None:
                truth = {"op": entry["op"], "amount": entry["amount"], "balance_after": entry["balance_after"],
                         "balance_before": entry["balance_before"], "time": entry["time"],
                         "operator": entry["operator"]}
                # a face sale has no card balance in its entry: the balance left is the account's, kept in result
                out.update({k: v for k, v in truth.items() if v is not None or not k.startswith("balance")})
        if isinstance(out.get("card_id"), int):
            out["printed_id"] = printed_id(out["card_id"])
        if out.get("op") == "void" and isinstance(seq, int):
            out["voids_text"] = self._voids_text(seq)
        return self._formatted(out)

    def _voids_text(self, seq: int) -> str:
        """Which sale a void reversed: its transaction number, time, amount and items."""
        entry = self.journal.get(seq)
        sale = self.journal.get((entry or {}).get("data", {}).get("voids", -1)) if entry else None
        if not sale:
            return ""
        items = ", ".join(f"{i.get('qty', 1)}× {i.get('name', '')}" for i in (sale.get("items") or [])[:4])
        return self.tr(N_("Reverses sale %(tx)s of %(time)s: %(amount)s")) % {
            "tx": f"{sale['terminal_id']}-{sale['seq']}", "time": when_short(sale["time"], self.language),
            "amount": self.money(sale["amount"])} + (f" ({items})" if items else "")

    def _formatted(self, data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        for key in MONEY_KEYS:
            if isinstance(out.get(key), int):
                out[f"{key}_fmt"] = self.money(out[key])
        if isinstance(out.get("history"), list):
            out["history"] = [self._history_line(h) for h in out["history"]]
        if out.get("time"):
            out["time_fmt"] = when(out["time"], self.language)
        return out

    def _history_line(self, item: dict[str, Any]) -> dict[str, Any]:
        line = dict(item)
        line["op_text"] = self.tr(OP_TEXT.get(item.get("op", ""), item.get("op", "")))
        if isinstance(item.get("amount"), int):
            line["amount_fmt"] = self.money(item["amount"])
        line["balance_fmt"] = self.money(item.get("balance"))
        if isinstance(item.get("time"), int):
            line["time_fmt"] = when(datetime.fromtimestamp(item["time"]).astimezone(), self.language)
        return line

    def _flow_text(self, flow: dict[str, Any]) -> dict[str, str]:
        text = {"notice": self.tr(NOTICE_TEXT[flow["notice"]]) if flow["notice"] in NOTICE_TEXT else ""}
        result = flow["result"]
        if flow["phase"] == Phase.DECLINED.value:
            code = result.get("code", "")
            template = DECLINE_TEXT.get(code)
            if template is None:
                text["reason"] = result.get("message", code)
            else:
                missing = result.get("missing")
                due = (flow.get("request") or {}).get("amount")
                balance = due - missing if isinstance(missing, int) and isinstance(due, int) else None
                text["reason"] = self.tr(template) % {"missing": result.get("missing_fmt", ""),
                                                      "balance": self.money(balance)}
        return text

    def recent(self, n: int) -> list[dict[str, Any]]:
        """The last money movements of this terminal, straight from the journal."""
        head = self.journal.head()[0]
        entries = [e for e in self.journal.entries(after=max(0, head - 6 * n))
                   if e["phase"] == "commit" and e["op"] in MONEY_OPS]
        out = []
        for e in reversed(entries[-n:]):
            out.append({"seq": e["seq"], "op": e["op"], "op_text": self.tr(OP_TEXT.get(e["op"], e["op"])),
                        "amount_fmt": self.money(e["amount"]), "balance_after_fmt": self.money(e["balance_after"]),
                        "operator": e["operator"], "card_id": e["card_id"],
                        "time_fmt": when_short(e["time"], self.language)})
        return out

    # --- operators -----------------------------------------------------------------------------

    def login(self, operator_id: str, pin: str) -> Session:
        try:
            op = self.operators.login(operator_id.strip(), pin.strip())
        except LoginFailed as exc:
            if exc.locked_for:
                raise KioskError("locked", self._("Too many wrong PINs: locked for %(minutes)s min")
                                 % {"minutes": max(1, (exc.locked_for + 59) // 60)}, 403) from None
            message = self._("Unknown operator or wrong PIN")
            if exc.attempts_left is not None:
                message += " " + self._("(%(n)s attempts left)") % {"n": exc.attempts_left}
            raise KioskError("login_failed", message, 403) from None
        now = self._clock()
        with self._lock:
            self.session = Session(operator=op.id, name=op.name, role=op.role, started=now, last_seen=now,
                                   idle_timeout_s=self.config.ui.idle_logout_s)
            session = self.session
        self.publish()
        return session

    def logout(self) -> None:
        with self._lock:
            self.session = None
            self.balance_view = None  # never shown to the next operator
            self.card_desk.forget()
            self.face_sale.stop()
            with contextlib.suppress(FlowError):
                if self.flow.phase is not Phase.PROCESSING and self.flow.phase is not Phase.TAP_AGAIN:
                    self.flow.cancel()
        self.publish()

    def current(self, token: str | None) -> Session | None:
        """The session of this token if still active (touching it); expired sessions end here."""
        with self._lock:
            session = self.session
            if session is None or not token or token != session.token:
                return None
            now = self._clock()
            if session.expired(now):
                self.session = None
                expired = True
            else:
                session.touch(now)
                expired = False
        if expired:
            self.logout()
            return None
        return session

    def require(self, session: Session, permission: Permission) -> None:
        if not session.may(permission):
            raise KioskError("not_permitted", self._("Not allowed for your role"), 403)

    # --- cart ------------------------------------------------------------------------------------

    def _editing(self) -> None:
        if self.flow.phase in (Phase.WAITING, Phase.PROCESSING, Phase.TAP_AGAIN, Phase.RETRY, Phase.FACE,
                               Phase.FACE_FACTOR):
            raise KioskError("busy", self._("Finish or cancel the payment first"))
        if self.flow.phase in (Phase.APPROVED, Phase.DECLINED):
            self.flow.cancel()
        self.balance_view = None

    def cart_add(self, session: Session, sku: str, qty: int = 1) -> None:
        self.require(session, Permission.SELL)
        product = self.catalogue.get(sku)
        if product is None:
            raise KioskError("unknown_product", self._("Unknown product"), 404)
        self._cart_change(lambda: self.cart.add(product, qty))

    def cart_scan(self, session: Session, code: str) -> None:
        self.require(session, Permission.SELL)
        product = self.catalogue.by_barcode(code)
        if product is None:
            raise KioskError("unknown_barcode", self._("Unknown barcode %(code)s") % {"code": code.strip()[:20]}, 404)
        self._cart_change(lambda: self.cart.add(product))

    def cart_amount(self, session: Session, amount: int) -> None:
        self.require(session, Permission.SELL)
        self._cart_change(lambda: self.cart.add_amount(amount, self._("Amount")))

    def cart_set(self, session: Session, index: int, qty: int) -> None:
        self.require(session, Permission.SELL)
        self._cart_change(lambda: self.cart.set_qty(index, qty))

    def cart_clear(self, session: Session) -> None:
        self.require(session, Permission.SELL)
        self._cart_change(self.cart.clear)

    def _cart_change(self, change: Callable[[], object]) -> None:
        with self._lock:
            self._editing()
            try:
                change()
            except CartError as exc:
                raise KioskError("cart", str(exc), 400) from None
        self.publish()

    # --- requests ---------------------------------------------------------------------------------

    def charge(self, session: Session, request_id: str) -> bool:
        """Arm a sale of the cart; False if this request was already armed or done (a repeated click or reload)."""
        self.require(session, Permission.SELL)
        with self._lock:
            if self.flow.finished(request_id) is not None or (
                    self.flow.request is not None and self.flow.request.id == request_id):
                return False
            if self.cart.empty:
                raise KioskError("empty_cart", self._("The cart is empty"), 400)
            self._sales_allowed()
            request = self._request(request_id, "sale", self.cart.total, items=tuple(self.cart.items()),
                                    operator=session.operator)
            return self._start(request)

    def face_start(self, session: Session, request_id: str) -> bool:
        """Pay the cart (or the sale waiting for a tap) with face; False for a repeated request."""
        self.require(session, Permission.SELL)
        with self._lock:
            if self.flow.finished(request_id) is not None:
                return False
            self._sales_allowed()
            request = self.flow.request
            if request is None or request.id != request_id:
                if self.cart.empty:
                    raise KioskError("empty_cart", self._("The cart is empty"), 400)
                request = self._request(request_id, "sale", self.cart.total, items=tuple(self.cart.items()),
                                        operator=session.operator)
            started = self.face_sale.start(request)
            self.balance_view = None
        self.publish()
        return started

    def _sales_allowed(self) -> None:
        """Too long without a sync: no new sale (card or face) until the terminal syncs (KioskError says so)."""
        if self.sync_panel is not None:
            self.sync_panel.check_sale()

    def start(self, session: Session, kind: str, request_id: str, *, amount: int = 0, method: str | None = None,
              holder: str | None = None, card_ref: int | None = None, comp: int = 0) -> bool:
        if kind not in KIND_PERMISSION or kind == "sale":
            raise KioskError("bad_request", f"unknown request kind {kind!r}", 400)
        self.require(session, KIND_PERMISSION[kind])
        if kind in ("topup", "issue"):
            method = method or "cash"
            if method not in TOPUP_METHODS:
                raise KioskError("bad_request", self._("Unknown payment method"), 400)
        try:  # the wallet's own policy (terminal mode, operator role), told before anyone takes cash
            self.wallet.permit(credit_operation(kind, method), session.operator)
        except Declined as exc:
            raise KioskError(exc.code, exc.message, 403) from None
        with self._lock:
            request = self._request(request_id, kind, amount, method=method, holder=holder, operator=session.operator,
                                    card_ref=card_ref, comp=comp)
            return self._start(request)

    def _request(self, request_id: str, kind: str, amount: int, **kwargs: Any) -> Request:
        try:
            return Request(id=request_id, kind=kind, amount=amount, **kwargs)
        except FlowError as exc:
            raise KioskError(exc.code, exc.message, 400) from None

    def _start(self, request: Request) -> bool:
        try:
            started = self.flow.start(request)
        except FlowError as exc:
            raise KioskError(exc.code, self._("Another payment is in progress"), 409) from None
        self.balance_view = None
        self.publish()
        return started

    def cancel(self, session: Session | None, *, force: bool = False) -> None:
        if force and (session is None or not (session.may(Permission.SETTINGS) or self._leave_after() == 0)):
            raise KioskError("not_permitted", self._("Only a supervisor can abandon an unsettled payment"), 403)
        with self._lock:
            try:
                self.flow.cancel(force=force)
                self.face_sale.stop()
            except FlowError as exc:
                message = {"processing": N_("A wristband is being written: wait for the result"),
                           "unsettled": N_("Tap the SAME wristband again to settle the payment")}.get(exc.code)
                raise KioskError(exc.code, self.tr(message) if message else exc.message) from None
            self.balance_view = None
        self.publish()

    def _leave_after(self) -> float | None:
        """Seconds until any operator may leave a torn payment pending (0: now); None when nothing is torn."""
        if self.flow.phase is not Phase.TAP_AGAIN or self.tap_again_at is None:
            return None
        return max(0.0, round(self.config.ui.leave_pending_s - (self._clock() - self.tap_again_at), 1))

    def retry(self, session: Session) -> None:
        with self._lock:
            try:
                self.flow.retry()
            except FlowError as exc:
                raise KioskError(exc.code, exc.message) from None
        self.publish()

    def dismiss(self) -> None:
        """Close a result or a balance view (any screen may; nothing moves money)."""
        with self._lock:
            if self.flow.phase in (Phase.APPROVED, Phase.DECLINED):
                self.flow.cancel()
            self.balance_view = None
        self.publish()

    def button_cancel(self) -> None:
        """The physical cancel button: cancels a payment that is only waiting for a tap."""
        with contextlib.suppress(KioskError):
            self.cancel(None)

    # --- settings ------------------------------------------------------------------------------------

    def set_mode(self, session: Session, mode: str) -> None:
        self.require(session, Permission.MODE)
        if mode not in MODES:
            raise KioskError("bad_request", f"mode must be one of {', '.join(MODES)}", 400)
        with self._lock:
            self.settings.set("mode", mode)
            self.mode = mode
        self.publish()

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise KioskError("bad_request", f"language must be one of {', '.join(LANGUAGES)}", 400)
        with self._lock:
            self.settings.set("language", language)
            self.language = language
            if self.printer is not None:
                from terminal.printer.language import ReceiptLanguage

                self.printer.language = ReceiptLanguage(language, self.printer.settings.timezone or None)
        self.publish()

    def set_receipt_policy(self, session: Session, policy: str) -> None:
        """always: every sale prints; on_request: a sale prints when the guest asks (top-ups always print)."""
        self.require(session, Permission.SETTINGS)
        if policy not in RECEIPT_POLICIES:
            raise KioskError("bad_request", f"receipt policy must be one of {', '.join(RECEIPT_POLICIES)}", 400)
        with self._lock:
            self.settings.set("receipt", policy)
            self.receipt_policy = policy
            self._apply_receipt_policy()
        self.publish()

    def _apply_receipt_policy(self) -> None:
        if self.printer is not None and self.printer.settings.receipt != self.receipt_policy:
            self.printer.settings = self.printer.settings.model_copy(update={"receipt": self.receipt_policy})

    # --- the card loop ----------------------------------------------------------------------------------

    def handle_tap(self, tag: PurseTag) -> None:
        """Called by the card loop for each card; the only place money moves."""
        tapped = time.perf_counter()
        uid = tag.uid.hex()  # type: ignore[attr-defined]
        with self._lock:
            decision = self.flow.on_tap(uid)
            operator = self.session.operator if self.session else None
        io_s = 0.0
        if decision.action is TapAction.FACTOR:
            self.face_sale.wristband(uid)
        elif decision.action is TapAction.BALANCE and self.face_cashier.tapped(uid):
            pass  # the cashier's enrollment form asked for this wristband
        elif decision.action is TapAction.BALANCE:
            io_s = self._balance(tag, operator)
        elif decision.action is TapAction.EXECUTE:
            assert decision.request is not None
            io_s = self._execute(tag, decision.request)
        elif decision.action is TapAction.SETTLE:
            assert decision.request is not None and decision.intent_seq is not None
            io_s = self._settle(tag, decision.request, decision.intent_seq)
        self.publish()
        now = time.perf_counter()
        self.timings.append({"io_s": io_s, "handled_s": now - tapped, "wall_tap": time.time() - (now - tapped),
                             "version": float(self.flow.version)})

    def _balance(self, tag: PurseTag, operator: str | None) -> float:
        start = time.perf_counter()
        try:
            state = self.wallet.read(tag, operator=operator)
        except Declined as exc:
            view = {"error": self._declined_text(exc.code, exc.message, exc.missing), "code": exc.code}
        except UnsupportedCard:
            view = {"error": self.tr(DECLINE_TEXT["unsupported"])}
        except CardError:
            return time.perf_counter() - start
        else:
            view = state.as_dict()
            view["history"] = view["history"][:6]
            view["journal"] = self._card_journal(state.card_id)
            view["printed_id"] = printed_id(state.card_id)
            view["holder"] = self.card_desk.holder(state.card_id) or ""
            view["status_text"] = self.tr(N_("Closed and refunded")) if state.status == "closed" else ""
            self.card_desk.remember(state.card_id, state.balance, state.record.comp)
        io = time.perf_counter() - start
        with self._lock:
            self.balance_view = view
        return io

    def _card_journal(self, card_id: int) -> list[dict[str, Any]]:
        entries = self.card_desk.history(card_id, (*MONEY_OPS, "replace"))
        return [{"seq": e["seq"], "op_text": self.tr(OP_TEXT.get(e["op"], e["op"])),
                 "amount_fmt": self.money(e["amount"]),
                 "balance_fmt": self.money(e["balance_after"]), "method": e["method"] or "",
                 "time_fmt": when_short(e["time"], self.language)} for e in entries]

    def _declined_text(self, code: str, message: str, missing: int | None) -> str:
        template = DECLINE_TEXT.get(code)
        return self.tr(template) % {"missing": self.money(missing), "balance": ""} if template else message

    def _execute(self, tag: PurseTag, request: Request) -> float:
        start = time.perf_counter()
        try:
            outcome = self._run(tag, request)
        except Declined as exc:
            io = time.perf_counter() - start
            with self._lock:
                self.flow.declined(exc.code, exc.message, missing=exc.missing)
            self._signal("declined")
            return io
        except TapAgain as exc:
            io = time.perf_counter() - start
            with self._lock:
                self.flow.tap_again(int(exc.intent["seq"]))
                self.tap_again_at = self._clock()
            self._signal("error")
            return io
        except UnsupportedCard as exc:
            io = time.perf_counter() - start
            with self._lock:
                self.flow.declined("unsupported", str(exc))
            self._signal("declined")
            return io
        except CardError:
            io = time.perf_counter() - start
            with self._lock:
                self.flow.read_failed()
            self._signal("error")
            return io
        io = time.perf_counter() - start
        self._approved(request, outcome.as_dict(), outcome)
        return io

    def _run(self, tag: PurseTag, request: Request) -> Outcome:
        op = request.operator
        if request.kind == "sale":
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
            outcome = self.wallet.replace(tag, old_card_id=request.card_ref, balance=request.amount, comp=request.comp,
                                          operator=op)
            self.card_desk.forget()
            return outcome
        if request.kind == "void":
            return self.wallet.void(tag, operator=op)
        raise AssertionError(request.kind)

    def _approved(self, request: Request, result: dict[str, Any], outcome: Outcome | None) -> None:
        result = {k: v for k, v in result.items() if k != "history"}
        with self._lock:
            self.flow.approved(result)
            if request.kind == "sale":
                self.cart.clear()
        self._signal("approved")
        spent = outcome.state.record.spent if outcome is not None else 0
        self._print_later(result.get("journal_seq"), spent)

    def _settle(self, tag: PurseTag, request: Request, intent_seq: int) -> float:
        start = time.perf_counter()
        try:
            state = self.wallet.read(tag, operator=request.operator)
        except Declined as exc:
            outcome = self.journal.outcome(intent_seq)
            if outcome is None:
                with self._lock:
                    self.flow.declined(exc.code, exc.message, missing=exc.missing)
                return time.perf_counter() - start
            state = None
        except CardError:
            with self._lock:
                self.flow.tap_again(intent_seq)
            return time.perf_counter() - start
        io = time.perf_counter() - start
        outcome = self.journal.outcome(intent_seq)
        if outcome is not None and outcome["phase"] == "commit":
            result = {"op": outcome["op"], "amount": outcome["amount"], "balance_before": outcome["balance_before"],
                      "balance_after": outcome["balance_after"], "journal_seq": outcome["seq"],
                      "card_id": outcome["card_id"], "settled": True}
            with self._lock:
                self.flow.settled(True, result)
                if request.kind == "sale":
                    self.cart.clear()
            self._signal("approved")
            self._print_later(outcome["seq"], state.record.spent if state is not None else 0)
        else:
            with self._lock:
                self.flow.settled(False, {"aborted": outcome["seq"] if outcome else None})
            self._signal("declined")
        return io

    def _signal(self, kind: str) -> None:
        if self.feedback is not None:
            try:
                self.feedback.signal(kind)
            except Exception:  # lights must never stop a payment
                log.exception("GPIO feedback failed")

    # --- receipts -----------------------------------------------------------------------------------------

    def _print_later(self, seq: int | None, spent: int) -> None:
        if seq is None:
            return
        self.last_seq, self.last_spent = seq, spent
        if self.printer is None:
            return
        self._receipts.submit(self._print_entry, seq, spent)

    def _header(self, operator: str | None) -> Any:
        from terminal.printer.receipt import Header

        return Header(vendor=self.config.terminal.vendor, terminal_id=self.config.terminal.id, operator=operator,
                      event=self.config.event.name or self.config.event.id)

    def receipt_for(self, entry: dict[str, Any], spent: int = 0) -> Any:
        from terminal.printer import journal_receipts as jr

        header = self._header(entry["operator"])
        op = entry["op"]
        if op == "sale":
            return jr.sale_receipt(entry, header)
        if op in ("topup", "issue", "replace"):
            return jr.topup_receipt(entry, header, spent_total=spent)
        if op == "void":
            voided = self.journal.get(entry["data"].get("voids", -1))
            return jr.void_receipt(entry, header, voided=voided)
        if op == "close":
            return jr.refund_receipt(entry, header)
        return None

    def _print_entry(self, seq: int, spent: int, requested: bool = False) -> int | None:
        try:
            entry = self.journal.get(seq)
            receipt = self.receipt_for(entry, spent) if entry else None
            if receipt is not None:
                job = self.printer.print(receipt, requested=requested)
                if job is not None:
                    self.last_job, self.last_job_seq = job, seq
                return job
        except Exception:  # a printer problem never reaches the sale
            log.exception("could not queue the receipt for journal entry %s", seq)
        return None

    def reprint(self, session: Session) -> int:
        """The last receipt again; under the on-request policy, the first print of the last sale's receipt."""
        self.require(session, Permission.REPORT)
        if self.printer is not None and self.last_seq is not None and self.last_job_seq != self.last_seq:
            job = self._print_entry(self.last_seq, self.last_spent, requested=True)
            if job is not None:
                return job
        if self.printer is None or self.last_job is None:
            raise KioskError("nothing_to_reprint", self._("Nothing to reprint"), 404)
        return int(self.printer.queue.reprint(self.last_job))

    def day_report(self) -> Any:
        from terminal.printer.day_report import day_report

        start = datetime.combine(datetime.now().date(), dtime.min).astimezone()
        return day_report(self.journal.entries(), self._header(None), start=start, currency=self.currency)

    def report_png(self, session: Session) -> bytes:
        self.require(session, Permission.REPORT)
        from terminal.printer.png_render import png_bytes, render_layout

        if self.printer is None:
            raise KioskError("no_printer", "no printer configured", 404)
        return png_bytes(render_layout(self.printer.layout(self.day_report())))

    def print_report(self, session: Session) -> None:
        self.require(session, Permission.REPORT)
        if self.printer is not None:
            self._receipts.submit(lambda: self.printer.print(self.day_report(), requested=True))

    def _printer_event(self, event: Any) -> None:
        self.printer_problem = self.tr(event.message) if event.kind == "problem" and event.message else None
        self.publish()

    # --- hardware -----------------------------------------------------------------------------------------------

    def reader_state(self, ok: bool, message: str) -> None:
        self.reader_ok, self.reader_message = ok, message
        self.publish()

    def unsupported_tap(self, message: str) -> None:
        with self._lock:
            if self.flow.phase is Phase.IDLE or self.flow.phase in (Phase.APPROVED, Phase.DECLINED):
                self.balance_view = {"error": self.tr(DECLINE_TEXT["unsupported"])}
        self._signal("declined")
        self.publish()

    def hardware(self) -> dict[str, Any]:
        printer = None
        if self.printer is not None:
            printer = {"target": self.printer.transport.describe(), "pending": self.printer.queue.pending_count(),
                       "problem": self.printer_problem}
        return {"reader": {"name": getattr(self.station.reader, "name", "?"), "ok": self.reader_ok,
                           "message": self.reader_message},
                "printer": printer,
                "gpio": self.feedback.status() if self.feedback is not None else None,
                "camera": self._camera_status(),
                "pending_intents": len(self.wallet.pending())}

    def _camera_status(self) -> dict[str, Any] | None:
        if self.face is None:
            return None
        st = self.face.status()
        return {"state": st.state.value, "detail": st.detail, "usable": st.usable,
                "liveness_off": self.face.liveness_off, "enrolled": len(self.face.gallery)}

    def close(self) -> None:
        self.face_sale.close()
        if self.face is not None:
            if self.face_shared_pipeline:
                self.face.pipeline = None  # loaded once for several terminals (tests): its owner closes it
            self.face.close()
        self._receipts.shutdown(wait=True)
        self.catalogue_store.close()
        self.settings.close()
