"""The admin screen's actions: catalogue and operator edits by a supervisor, and the hardware self-test.

Kept apart from the till because none of it moves money: it checks the
role, turns bad input into a message in the operator's language, and writes
to the stores. The self-test runs in its own thread, so pressing the button
never holds up a tap at the reader; its result is pushed to the screens as a
"selftest" event.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from terminal import selftest
from terminal.app import CatalogueError, Permission, Session, ean13_valid
from terminal.app.errors import TillError
from terminal.app.words import N_
from terminal.money import AmountError, parse_amount
from terminal.operators import PIN_DIGITS, OperatorError, check_pin_format
from terminal.selftest import Check, SelftestOptions, as_dict, run_selftest

if TYPE_CHECKING:
    from terminal.app.till import Till

log = logging.getLogger(__name__)

SKU = re.compile(r"^[A-Za-z0-9_.-]{1,32}\Z")  # \Z: "$" lets a trailing newline through
OPERATOR_ID = re.compile(r"^[A-Za-z0-9]{1,16}\Z")
ROLES = ("vendor", "cashier", "supervisor")
CHECK_TEXT = {"reader": N_("Reader"), "printer": N_("Printer"), "camera": N_("Camera"),
              "leds+buzzer": N_("LEDs and buzzer"), "clock": N_("Clock"), "disk": N_("Disk"), "keys": N_("Keys"),
              "collector": N_("Collector")}
RESULT_TEXT = {"pass": N_("pass"), "fail": N_("FAIL"), "skip": N_("skipped")}


class Admin:
    def __init__(self, till: Till, *, options: SelftestOptions | None = None) -> None:
        self.till = till
        self.options = options or SelftestOptions(card=False, print_page=False)
        self._selftest_lock = threading.Lock()
        self.selftest_thread: threading.Thread | None = None
        self.selftest_done = threading.Event()
        self.selftest_result: dict[str, Any] | None = None

    def _(self, message: str) -> str:
        return self.till.tr(message)

    def _bad(self, message: str, code: str = "bad_input") -> TillError:
        return TillError(code, message, 400)

    # --- catalogue -------------------------------------------------------------------------------------

    def product_fields(self, form: Mapping[str, Any], *, new: bool) -> dict[str, Any]:
        """The form's text fields checked one by one, so the message names what to fix."""
        out: dict[str, Any] = {}
        if new:
            sku = str(form.get("sku", "")).strip()
            if not SKU.match(sku):
                raise self._bad(self._("A product code is 1 to 32 letters, digits, '.', '_' or '-'"))
            out["sku"] = sku
        if "name" in form or new:
            name = str(form.get("name", "")).strip()
            if not name or len(name) > 48:
                raise self._bad(self._("A product needs a name of at most 48 characters"))
            out["name"] = name
        if "price" in form or new:
            text = str(form.get("price", "")).strip()
            try:
                price = parse_amount(text, self.till.currency)
            except AmountError:
                raise self._bad(self._("Not a valid amount") + f": {text[:16]}", "bad_amount") from None
            if price <= 0:
                raise self._bad(self._("A price must be more than zero"), "bad_amount")
            out["price"] = price
        if "category" in form or new:
            category = str(form.get("category", "")).strip()
            if len(category) > 32:
                raise self._bad(self._("A category has at most 32 characters"))
            out["category"] = category
        if "barcode" in form or new:
            barcode = str(form.get("barcode", "")).strip()
            if barcode and not ean13_valid(barcode):
                raise self._bad(self._("Not a valid EAN-13 barcode (13 digits with a correct check digit)"),
                                "bad_barcode")
            out["barcode"] = barcode
        return out

    def product_add(self, session: Session, form: Mapping[str, Any]) -> dict[str, Any]:
        self.till.require(session, Permission.SETTINGS)
        fields = self.product_fields(form, new=True)
        store = self.till.catalogue_store
        if store.catalogue().get(fields["sku"]) is not None:
            raise TillError("exists", self._("A product with code %(sku)s exists") % {"sku": fields["sku"]}, 409)
        self._barcode_free(fields["sku"], fields["barcode"])
        product = self._catalogue(lambda: store.add(fields))
        self._changed(session, "added", product.sku)
        return product.model_dump()

    def product_update(self, session: Session, sku: str, form: Mapping[str, Any]) -> dict[str, Any]:
        self.till.require(session, Permission.SETTINGS)
        store = self.till.catalogue_store
        if store.catalogue().get(sku) is None:
            raise self._unknown_product(sku)
        fields = self.product_fields(form, new=False)
        if fields.get("barcode"):
            self._barcode_free(sku, fields["barcode"])
        product = self._catalogue(lambda: store.update(sku, fields))
        self._changed(session, "changed", sku)
        return product.model_dump()

    def product_remove(self, session: Session, sku: str) -> None:
        self.till.require(session, Permission.SETTINGS)
        if self.till.catalogue_store.catalogue().get(sku) is None:
            raise self._unknown_product(sku)
        self._catalogue(lambda: self.till.catalogue_store.remove(sku))
        self._changed(session, "removed", sku)

    def _unknown_product(self, sku: str) -> TillError:
        return TillError("unknown_product", self._("No product with code %(sku)s") % {"sku": sku[:32]}, 404)

    def _barcode_free(self, sku: str, barcode: str) -> None:
        other = self.till.catalogue_store.catalogue().by_barcode(barcode) if barcode else None
        if other is not None and other.sku != sku:
            raise TillError("barcode_used", self._("Barcode %(code)s is already used by %(sku)s")
                             % {"code": barcode, "sku": other.sku}, 409)

    def _catalogue(self, change: Any) -> Any:
        try:
            return change()
        except CatalogueError as exc:  # a race with a bundle, or a rule checked only by the store
            raise self._bad(str(exc)) from None

    def _changed(self, session: Session, what: str, sku: str) -> None:
        log.info("catalogue: product %s %s by operator %s", sku, what, session.operator)
        self.till.publish()

    # --- operators -------------------------------------------------------------------------------------

    def _pin(self, pin: str) -> str:
        try:
            return check_pin_format(pin.strip())
        except OperatorError:
            raise self._bad(self._("A PIN is %(min)s to %(max)s digits")
                            % {"min": PIN_DIGITS[0], "max": PIN_DIGITS[1]}, "bad_pin") from None

    def _existing(self, operator_id: str) -> None:
        if self.till.operators.get(operator_id) is None:
            raise TillError("unknown_operator", self._("No operator %(id)s") % {"id": operator_id[:16]}, 404)

    def operator_add(self, session: Session, operator_id: str, name: str, role: str, pin: str) -> None:
        self.till.require(session, Permission.OPERATORS)
        operator_id = operator_id.strip()
        if not OPERATOR_ID.match(operator_id):
            raise self._bad(self._("An operator id is 1 to 16 letters or digits"))
        if role not in ROLES:
            raise self._bad(self._("Choose a role: vendor, cashier or supervisor"))
        pin = self._pin(pin)
        if self.till.operators.get(operator_id) is not None:
            raise TillError("exists", self._("Operator %(id)s exists") % {"id": operator_id}, 409)
        try:
            self.till.operators.add(operator_id, name, role, pin)
        except OperatorError as exc:
            raise self._bad(str(exc)) from None
        log.info("operator %s (%s) added by %s", operator_id, role, session.operator)

    def operator_remove(self, session: Session, operator_id: str) -> None:
        self.till.require(session, Permission.OPERATORS)
        self._existing(operator_id)
        if operator_id == session.operator:
            raise TillError("self", self._("You cannot remove yourself"), 409)
        supervisors = [op for op in self.till.operators.all() if op.role.value == "supervisor"]
        if [op.id for op in supervisors] == [operator_id]:
            raise TillError("last_supervisor", self._("The last supervisor cannot be removed"), 409)
        self.till.operators.remove(operator_id)
        log.info("operator %s removed by %s", operator_id, session.operator)

    def operator_unlock(self, session: Session, operator_id: str) -> None:
        self.till.require(session, Permission.OPERATORS)
        self._existing(operator_id)
        self.till.operators.unlock(operator_id)
        log.info("operator %s unlocked by %s", operator_id, session.operator)

    def operator_set_pin(self, session: Session, operator_id: str, pin: str) -> None:
        self.till.require(session, Permission.OPERATORS)
        self._existing(operator_id)
        self.till.operators.set_pin(operator_id, self._pin(pin))
        log.info("PIN of operator %s reset by %s", operator_id, session.operator)  # never the PIN itself

    def operators(self, session: Session) -> list[dict[str, Any]]:
        self.till.require(session, Permission.OPERATORS)
        return [op.as_dict(time.time()) for op in self.till.operators.all()]

    # --- settings ----------------------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        k = self.till
        return {"mode": k.mode, "language": k.language, "receipt": k.receipt_policy}

    # --- self-test ---------------------------------------------------------------------------------------

    def selftest_start(self, session: Session) -> bool:
        """Start the self-test in the background; False if one is already running."""
        self.till.require(session, Permission.SETTINGS)
        with self._selftest_lock:
            if self.selftest_thread is not None and self.selftest_thread.is_alive():
                return False
            self.selftest_done.clear()
            self.selftest_thread = threading.Thread(target=self._selftest, name="selftest", daemon=True)
            self.selftest_thread.start()
        self.till.events.publish("selftest", self.selftest_view())
        return True

    @property
    def selftest_running(self) -> bool:
        thread = self.selftest_thread
        return thread is not None and thread.is_alive() and not self.selftest_done.is_set()

    def selftest_view(self) -> dict[str, Any]:
        """The last result as the screen shows it (names and results in the operator's language)."""
        result = self.selftest_result
        view: dict[str, Any] = {"running": self.selftest_running, "passed": None, "checks": [], "at": ""}
        if result is not None:
            view.update(passed=result["passed"], at=result["at"], checks=[
                {**c, "label": self.till.tr(CHECK_TEXT.get(c["name"], c["name"])),
                 "result_text": self.till.tr(RESULT_TEXT[c["result"]])} for c in result["checks"]])
        return view

    def _selftest(self) -> None:
        try:
            checks = self._checks()
            result = as_dict(checks)
        except Exception as exc:  # a broken self-test is a result too, never a crash of the terminal
            log.exception("self-test failed to run")
            result = {"passed": False, "checks": [
                {"name": "selftest", "result": "fail", "detail": f"{type(exc).__name__}: {exc}", "seconds": 0.0}]}
        result["at"] = time.strftime("%H:%M:%S")
        self.selftest_result = result
        self.selftest_done.set()
        self.till.events.publish("selftest", self.selftest_view())

    def _checks(self) -> list[Check]:
        """The provisioning self-test, adapted to a running terminal that already holds its devices."""
        till = self.till
        own_gpio = till.feedback is not None
        only = tuple(name for name, _ in selftest.CHECKS if not (own_gpio and name == "leds+buzzer"))
        options = SelftestOptions(**{**self.options.__dict__, "only": only})
        checks = run_selftest(till.config, options)
        if own_gpio:
            checks.insert(3, self._gpio_check())
        for check in checks:
            if check.name == "reader" and not till.hardware.reader_ok:
                check.result, check.detail = "fail", f"card loop: {till.hardware.reader_message or 'reader not ready'}"
            if check.name == "printer" and till.printer is not None:
                warnings = []
                pending = till.printer.queue.pending_count()
                if pending:
                    warnings.append(f"{pending} receipt(s) waiting in the queue")
                if till.printer_problem:
                    warnings.append(till.printer_problem)
                if warnings:
                    check.detail += " · warning: " + "; ".join(warnings)
        return checks

    def _gpio_check(self) -> Check:
        """The till's own LEDs and buzzer (opening the pins a second time would fail on a Pi)."""
        start = time.monotonic()
        feedback = self.till.feedback
        wrong = []
        for label, device in (("green LED", feedback.green), ("red LED", feedback.red), ("buzzer", feedback.buzzer)):
            device.on()
            on = device.value
            device.off()
            if not on or device.value:
                wrong.append(label)
        status = feedback.status()
        pins = f"green {status['green']}, red {status['red']}, buzzer {status['buzzer']}"
        seconds = round(time.monotonic() - start, 3)
        if wrong:
            return Check("leds+buzzer", "fail", f"pins do not follow: {', '.join(wrong)}", seconds)
        return Check("leds+buzzer", "pass", f"{pins} switched ({status['backend']} pins)", seconds)
