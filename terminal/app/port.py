"""What the till's parts (and the face desks) may use of the till: a port, so no part reaches into another.

Every part runs under the till's one lock when it changes shared state (the
flow, the cart, the session, what the screen shows) and publishes the new
state afterwards; money moves only through the wallet and `FaceAccounts`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from terminal.app.cart import Cart
    from terminal.app.flow import Flow, Request
    from terminal.app.permissions import Permission
    from terminal.app.session import Session
    from terminal.wallet.face_accounts import FaceAccounts
    from terminal.wallet.journal import Journal


class TillPort(Protocol):
    lock: threading.RLock
    config: Any
    journal: Journal
    flow: Flow
    cart: Cart
    session: Session | None
    balance_view: dict[str, Any] | None
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

    def require(self, session: Session, permission: Permission) -> None: ...

    def approved(self, request: Request, result: dict[str, Any], spent: int) -> None: ...

    def print_later(self, seq: int | None, spent: int) -> None: ...
