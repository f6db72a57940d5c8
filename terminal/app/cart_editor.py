"""Changing the cart from the sale screen: products, barcodes, free amounts, quantities; never mid-payment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from terminal.app.cart import CartError
from terminal.app.errors import TillError
from terminal.app.flow import Phase
from terminal.app.permissions import Permission
from terminal.app.session import Session
from terminal.app.words import N_

if TYPE_CHECKING:
    from terminal.app.port import TillPort

BUSY = (Phase.WAITING, Phase.PROCESSING, Phase.TAP_AGAIN, Phase.RETRY, Phase.FACE, Phase.FACE_FACTOR)


class CartEditor:
    def __init__(self, till: TillPort) -> None:
        self.till = till

    def add(self, session: Session, sku: str, qty: int = 1) -> None:
        self.till.require(session, Permission.SELL)
        product = self.till.catalogue.get(sku)
        if product is None:
            raise TillError("unknown_product", self.till.tr(N_("Unknown product")), 404)
        self._change(lambda: self.till.cart.add(product, qty))

    def scan(self, session: Session, code: str) -> None:
        self.till.require(session, Permission.SELL)
        product = self.till.catalogue.by_barcode(code)
        if product is None:
            message = self.till.tr(N_("Unknown barcode %(code)s")) % {"code": code.strip()[:20]}
            raise TillError("unknown_barcode", message, 404)
        self._change(lambda: self.till.cart.add(product))

    def amount(self, session: Session, amount: int) -> None:
        self.till.require(session, Permission.SELL)
        self._change(lambda: self.till.cart.add_amount(amount, self.till.tr(N_("Amount"))))

    def set_qty(self, session: Session, index: int, qty: int) -> None:
        self.till.require(session, Permission.SELL)
        self._change(lambda: self.till.cart.set_qty(index, qty))

    def clear(self, session: Session) -> None:
        self.till.require(session, Permission.SELL)
        self._change(self.till.cart.clear)

    def _change(self, change: Callable[[], object]) -> None:
        till = self.till
        with till.lock:
            if till.flow.phase in BUSY:
                raise TillError("busy", till.tr(N_("Finish or cancel the payment first")))
            if till.flow.phase in (Phase.APPROVED, Phase.DECLINED):
                till.flow.cancel()
            till.balance_view = None
            try:
                change()
            except CartError as exc:
                raise TillError("cart", str(exc), 400) from None
        till.publish()
