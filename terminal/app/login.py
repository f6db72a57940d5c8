"""Who works the till: log in with a PIN (with lockout), the one session, and logging out on inactivity."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from terminal.app.errors import TillError
from terminal.app.flow import FlowError, Phase
from terminal.app.session import Session
from terminal.app.words import N_
from terminal.operators import LoginFailed, OperatorStore

if TYPE_CHECKING:
    from terminal.app.port import TillPort


class OperatorDesk:
    def __init__(self, till: TillPort, operators: OperatorStore, *, clock: Callable[[], float]) -> None:
        self.till = till
        self.operators = operators
        self._clock = clock

    def login(self, operator_id: str, pin: str) -> Session:
        till = self.till
        try:
            op = self.operators.login(operator_id.strip(), pin.strip())
        except LoginFailed as exc:
            if exc.locked_for:
                raise TillError("locked", till.tr(N_("Too many wrong PINs: locked for %(minutes)s min"))
                                % {"minutes": max(1, (exc.locked_for + 59) // 60)}, 403) from None
            message = till.tr(N_("Unknown operator or wrong PIN"))
            if exc.attempts_left is not None:
                message += " " + till.tr(N_("(%(n)s attempts left)")) % {"n": exc.attempts_left}
            raise TillError("login_failed", message, 403) from None
        now = self._clock()
        with till.lock:
            till.session = Session(operator=op.id, name=op.name, role=op.role, started=now, last_seen=now,
                                   idle_timeout_s=till.config.ui.idle_logout_s)
            session = till.session
        till.publish()
        return session

    def logout(self) -> None:
        till = self.till
        with till.lock:
            till.session = None
            till.balance_view = None  # never shown to the next operator
            till.card_desk.forget()
            till.face_sale.stop()
            with contextlib.suppress(FlowError):
                if till.flow.phase is not Phase.PROCESSING and till.flow.phase is not Phase.TAP_AGAIN:
                    till.flow.cancel()
        till.publish()

    def current(self, token: str | None) -> Session | None:
        """The session of this token if still active (touching it); expired sessions end here."""
        till = self.till
        with till.lock:
            session = till.session
            if session is None or not token or token != session.token:
                return None
            now = self._clock()
            if session.expired(now):
                till.session = None
                expired = True
            else:
                session.touch(now)
                expired = False
        if expired:
            self.logout()
            return None
        return session
