"""The running till: the parts that make a stall terminal, sharing one lock and one picture of the screen.

Screens call the parts (`login`, `cart_editor`, `payments`, `receipts`,
`preferences`, `hardware`, the face desks); the card loop calls
`taps.handle_tap`. Every change publishes the whole state as one event
(`screen` turns the till into what screens show), so every screen renders
the same truth; results are re-read from the journal. Every collaborator
comes in through the constructor (`terminal.wiring` builds them); the parts
and the face desks reach shared state only through `TillPort`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from terminal.app.booking import Booking
from terminal.app.card_desk import CardDesk
from terminal.app.cart import Cart
from terminal.app.cart_editor import CartEditor
from terminal.app.errors import TillError
from terminal.app.face_cashier import FaceCashierDesk
from terminal.app.face_sale import FaceSaleDesk
from terminal.app.flow import Flow, Request
from terminal.app.hardware import HardwareStatus
from terminal.app.login import OperatorDesk
from terminal.app.payments import Payments
from terminal.app.permissions import Permission
from terminal.app.preferences import Preferences
from terminal.app.receipts import ReceiptDesk
from terminal.app.session import Session
from terminal.app.taps import TapDispatch
from terminal.app.words import N_, gettext, money
from terminal.catalogue import Catalogue
from terminal.catalogue_store import CatalogueStore
from terminal.operators import OperatorStore
from terminal.settings_store import SettingsStore
from terminal.station import Station
from terminal.wallet.face_accounts import FaceAccounts

log = logging.getLogger(__name__)


class Till:
    def __init__(self, station: Station, operators: OperatorStore, *, catalogue_store: CatalogueStore,
                 settings: SettingsStore, face_accounts: FaceAccounts, events: Any,
                 screen: Callable[[Till], dict[str, Any]], printer: Any = None,
                 feedback: Callable[[Callable[[], None]], Any] | None = None, face: Any = None, sync: Any = None,
                 sync_panel: Callable[[Till], Any] | None = None, clock: Callable[[], float] = time.time,
                 demo: bool = False, shared_face_pipeline: bool = False) -> None:
        """`feedback` and `sync_panel` are factories: the lights call back into the till (the cancel button) and
        the sync panel publishes through it, so they are made here, once the till exists."""
        self.station = station
        self.config = station.config
        self.wallet = station.wallet
        self.journal = station.wallet.journal
        self.currency = self.config.event.currency
        self.operators = operators
        self.catalogue_store = catalogue_store
        self.face_accounts = face_accounts
        self.events = events
        self.demo = demo
        self.printer = printer
        self.face = face
        self.face_shared_pipeline = shared_face_pipeline
        self.sync = sync
        self.lock = threading.RLock()
        self.flow = Flow()
        self.cart = Cart()
        self.session: Session | None = None
        self.balance_view: dict[str, Any] | None = None
        self.tap_again_at: float | None = None
        self.timings: deque[dict[str, float]] = deque(maxlen=100)  # tap -> published, for the benchmark
        self._screen = screen
        self.card_desk = CardDesk(self.journal, self.wallet.hotlist, clock=clock)
        self.booking = Booking(self.wallet, self.journal, self.card_desk)
        self.preferences = Preferences(self, settings, printer)
        self.receipts = ReceiptDesk(self, printer)
        self.face_sale = FaceSaleDesk(self)
        self.face_cashier = FaceCashierDesk(self)
        self.login = OperatorDesk(self, operators, clock=clock)
        self.cart_editor = CartEditor(self)
        self.payments = Payments(self, self.booking, clock=clock)
        self.feedback = feedback(self.button_cancel) if feedback is not None else None
        self.hardware = HardwareStatus(self, station, printer, self.feedback, face)
        self.taps = TapDispatch(self, self.booking, clock=clock)
        self.sync_panel = sync_panel(self) if sync_panel is not None else None  # sync status, sales limit
        self.collector = getattr(self.sync_panel, "client", None)  # online authorization, uploads
        if self.collector is not None and getattr(self.wallet, "release_amk", None) is None:
            self.wallet.release_amk = self.collector.amk_releaser()  # DESFire bands move epochs at a cashier tap
        if printer is not None:
            printer.queue.subscribe(self.hardware.printer_event)

    # --- shared by the parts (TillPort) ------------------------------------------------------------------------

    @property
    def catalogue(self) -> Catalogue:
        """The current catalogue (re-read when a supervisor or a bundle changed it)."""
        return self.catalogue_store.catalogue()

    @property
    def language(self) -> str:
        return self.preferences.language

    @property
    def mode(self) -> str:
        return self.preferences.mode

    @property
    def receipt_policy(self) -> str:
        return self.preferences.receipt_policy

    @property
    def printer_problem(self) -> str | None:
        return self.hardware.printer_problem

    @printer_problem.setter
    def printer_problem(self, problem: str | None) -> None:
        self.hardware.printer_problem = problem

    @property
    def last_job(self) -> int | None:
        return self.receipts.last_job

    @property
    def _receipts(self) -> Any:
        """The receipt worker (tests wait on it)."""
        return self.receipts.worker

    def tr(self, message: str) -> str:
        """Translate a message marked elsewhere with N_ (a variable, so extraction must not look here)."""
        return gettext(self.language, message)

    def money(self, amount: int | None) -> str:
        return money(amount, self.currency, self.language)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return self._screen(self)

    def publish(self) -> None:
        self.events.publish("state", self.snapshot())

    def require(self, session: Session, permission: Permission) -> None:
        if not session.may(permission):
            raise TillError("not_permitted", self.tr(N_("Not allowed for your role")), 403)

    def signal(self, kind: str) -> None:
        if self.feedback is not None:
            try:
                self.feedback.signal(kind)
            except Exception:  # lights must never stop a payment
                log.exception("GPIO feedback failed")

    def approved(self, request: Request, result: dict[str, Any], spent: int) -> None:
        """A request is done (card or face): the result on screen, the cart emptied, lights, the receipt."""
        result = {k: v for k, v in result.items() if k != "history"}
        with self.lock:
            self.flow.approved(result)
            if request.kind == "sale":
                self.cart.clear()
        self.signal("approved")
        self.print_later(result.get("journal_seq"), spent)

    def print_later(self, seq: int | None, spent: int) -> None:
        self.receipts.print_later(seq, spent)

    def receipt_for(self, entry: dict[str, Any], spent: int = 0) -> Any:
        return self.receipts.receipt_for(entry, spent)

    def set_language(self, language: str) -> None:
        self.preferences.set_language(language)

    def button_cancel(self) -> None:
        """The physical cancel button: cancels a payment that is only waiting for a tap."""
        self.payments.button_cancel()

    def close(self) -> None:
        self.face_sale.close()
        if self.face is not None:
            if self.face_shared_pipeline:
                self.face.pipeline = None  # loaded once for several terminals (tests): its owner closes it
            self.face.close()
        self.receipts.close()
        self.catalogue_store.close()
        self.preferences.close()
