"""Roles and what each may do: one table, checked by the kiosk before any money moves.

Kept as data so that a reviewer sees the whole policy at a glance and the
tests can walk it; the wallet still enforces its own limits (void window,
maximum balance) whatever the role.
"""

from __future__ import annotations

from enum import StrEnum

from terminal.operators import Role, role_of
from terminal.refusal import Refusal


class Permission(StrEnum):
    SELL = "sell"  # charge a card at a stall
    VOID = "void"  # undo the last sale on a card (wallet: same terminal, within the void window)
    ISSUE = "issue"  # activate a wristband
    TOPUP = "topup"  # load money
    REFUND = "refund"  # close a card and pay out what is refundable
    HISTORY = "history"  # a card's transactions on the cashier screen
    REPORT = "report"  # the day's report, reprints
    SETTINGS = "settings"  # language, hardware, catalogue
    OPERATORS = "operators"  # add / unlock operators
    MODE = "mode"  # switch the terminal between sale and cashier


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VENDOR: frozenset({Permission.SELL, Permission.VOID, Permission.REPORT}),
    Role.CASHIER: frozenset({Permission.SELL, Permission.ISSUE, Permission.TOPUP, Permission.REFUND,
                             Permission.HISTORY, Permission.REPORT}),
    Role.SUPERVISOR: frozenset(Permission),
}

# The permission a flow kind needs; balance checks need none (any tap while idle shows the balance).
KIND_PERMISSION: dict[str, Permission] = {
    "sale": Permission.SELL,
    "void": Permission.VOID,
    "issue": Permission.ISSUE,
    "topup": Permission.TOPUP,
    "close": Permission.REFUND,
    "replace": Permission.ISSUE,
}


class NotPermitted(Refusal):
    """The logged-in operator's role does not include what was asked."""

    def __init__(self, role: str, permission: Permission) -> None:
        super().__init__("not_permitted", f"a {role} may not {permission.value}")
        self.role = role
        self.permission = permission


def allowed(role: Role | str, permission: Permission) -> bool:
    return permission in GRANTS[role_of(str(role))]


def require(role: Role | str, permission: Permission) -> None:
    if not allowed(role, permission):
        raise NotPermitted(str(role), permission)
