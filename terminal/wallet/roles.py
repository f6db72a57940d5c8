"""Who may move money how: the terminal's enrolled mode and the operator's role, checked by the wallet itself.

The kiosk hides buttons a role may not use, but the wallet is what every front end (kiosk HTTP API, `stallpay
card ...`, a script using the modules) goes through, so the policy that protects the money is enforced here:
a terminal enrolled for sales can never create money (issue, top up, complimentary credit, replace, refund or
close), whoever is logged in and whatever screen is showing. Kept as data so a reviewer sees it at a glance; the
collector re-checks the mode from the terminal's enrollment (`sync.collector.ledger`).
"""

from __future__ import annotations

from collections.abc import Callable

from terminal.wallet.rules import Declined

# Wallet operations. "comp" is a top-up (or issue) paid with complimentary credit: money nobody paid for.
READ, SALE, VOID, ISSUE, TOPUP, COMP, CLOSE, REPLACE = "read", "sale", "void", "issue", "topup", "comp", "close", \
    "replace"
EVERY = frozenset({READ, SALE, VOID, ISSUE, TOPUP, COMP, CLOSE, REPLACE})
CREDIT = frozenset({ISSUE, TOPUP, COMP, REPLACE})  # operations that put money on a card

# What a terminal enrolled in each mode may do (terminal.toml [terminal] mode, set by pairing).
MODE_OPERATIONS: dict[str, frozenset[str]] = {
    "sale": frozenset({READ, SALE, VOID}),
    "cashier": EVERY,
    "admin": EVERY,
}

# What an operator of each role may do (operators.db); same grants as the kiosk's table (terminal.app.permissions).
ROLE_OPERATIONS: dict[str, frozenset[str]] = {
    "vendor": frozenset({READ, SALE, VOID}),
    "cashier": frozenset({READ, SALE, ISSUE, TOPUP, COMP, CLOSE, REPLACE}),
    "supervisor": EVERY,
}

WHAT = {SALE: "sell", VOID: "void a sale", ISSUE: "issue wristbands", TOPUP: "top up", COMP: "give complimentary "
        "credit", CLOSE: "refund or close cards", REPLACE: "replace cards", READ: "read cards"}


class Policy:
    """The mode this terminal was enrolled in, and how to find an operator's role (None = unknown operator).

    An operation without an operator (a technician's console, a test harness) is bounded by the mode alone; an
    operator id that is not on this terminal is refused, so a made-up id cannot borrow a role."""

    def __init__(self, mode: str = "admin", role_of: Callable[[str], str | None] | None = None, *,
                 dates: Callable[[str], None] | None = None) -> None:
        if mode not in MODE_OPERATIONS:
            raise ValueError(f"unknown terminal mode {mode!r}; use one of {', '.join(MODE_OPERATIONS)}")
        self.mode = mode
        self._role_of = role_of
        self._dates = dates  # raises Declined("outside_event") outside the event's dates (terminal.wallet.event_window)

    def check(self, operation: str, operator: str | None) -> None:
        if operation not in MODE_OPERATIONS[self.mode]:
            raise Declined("not_permitted_mode",
                           f"this terminal is enrolled for {self.mode}: it may not {WHAT[operation]}")
        if operator is not None and self._role_of is not None:
            role = self._role_of(operator)
            if role is None:
                raise Declined("unknown_operator", f"operator {operator!r} is not known on this terminal")
            if operation not in ROLE_OPERATIONS.get(role, frozenset()):
                raise Declined("not_permitted", f"a {role} may not {WHAT[operation]}")
        if self._dates is not None:
            self._dates(operation)


def credit_operation(op: str, method: str | None) -> str:
    """The policy's name for a credit: complimentary credit is its own permission whatever the op."""
    return COMP if method == "comp" else op
