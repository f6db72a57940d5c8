"""What the till's parts (and the face desks) may use of the till: a port, so no part reaches into another.

Every part runs under the till's one lock when it changes shared state (the
flow, the cart, the session, what the screen shows) and publishes the new
state afterwards; money moves only through the wallet and `FaceAccounts`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections import deque

    from terminal.app.card_desk import CardDesk
    from terminal.app.cart import Cart
    from terminal.app.flow import Flow, Request
    from terminal.app.permissions import Permission
    from terminal.app.session import Session
    from terminal.catalogue import Catalogue
    from terminal.wallet.face_accounts import FaceAccounts
    from terminal.wallet.journal import Journal
    from terminal.wallet.operations import Wallet


class FaceSaleControl(Protocol):
    """What the other parts ask of the face sale desk."""

    def start(self, request: Request) -> bool: ...

    def stop(self) -> None: ...

    def wristband(self, uid_hex: str) -> None: ...


class FaceCashierControl(Protocol):
    """What the card loop asks of the face cashier desk: is this tap the wristband an enrollment waits for."""

    def tapped(self, uid_hex: str) -> bool: ...


class FaceDeskPort(Protocol):
    """What a face desk uses of the till: the lock and the flow, the face stack and face-account money, words,
    publishing, and the end of a request (`approved`, `print_later`)."""

    lock: threading.RLock
    config: Any
    journal: Journal
    flow: Flow
    face: Any  # terminal.camera.service.FacePay, None without a face stack
    face_accounts: FaceAccounts
    sync: Any  # the terminal side of sync (bundles, queued uploads), None in unit setups
    collector: Any  # the collector client when one is configured
    events: Any  # publish(kind, data): every open screen receives it

    @property
    def language(self) -> str: ...

    def publish(self) -> None: ...

    def tr(self, message: str) -> str: ...

    def money(self, amount: int | None) -> str: ...

    def signal(self, kind: str) -> None: ...

    def approved(self, request: Request, result: dict[str, Any], spent: int) -> None: ...

    def print_later(self, seq: int | None, spent: int) -> None: ...


class TillPort(FaceDeskPort, Protocol):
    """What the till's other parts use: the face desk's view plus the shared sale state."""

    currency: str
    wallet: Wallet
    card_desk: CardDesk
    cart: Cart
    session: Session | None
    balance_view: dict[str, Any] | None
    sync_panel: Any  # sync status and the sales limit (check_sale), None without sync
    face_sale: FaceSaleControl
    face_cashier: FaceCashierControl
    tap_again_at: float | None  # when a torn payment began waiting for its band
    timings: deque[dict[str, float]]

    @property
    def catalogue(self) -> Catalogue: ...

    def require(self, session: Session, permission: Permission) -> None: ...
