"""Face accounts' spending on a terminal that may be offline. Pure functions over integer minor units.

A face account's balance lives in the collector's ledger (DESIGN.md), not on a
wristband. The terminal holds the last snapshot the collector signed (sync
verifies the signature before handing it here) and its own movements since
then: its credits (top-ups it took the money for) and its debits (sales,
checkouts). Online, the collector authorises the payment. Offline, the terminal
may spend what the snapshot plus its own credits minus its own debits leaves,
and of the snapshot's money at most `allowance`: the allowance bounds what a
guest could overspend by paying at several offline terminals at once, while
money credited here is known to no other terminal, so spending it here risks
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from terminal.money import is_minor_units


class Verdict(StrEnum):
    APPROVE_OFFLINE = "approve offline"
    AUTHORIZE_ONLINE = "authorize online"
    INSUFFICIENT = "insufficient funds"
    OVER_ALLOWANCE = "offline allowance used up"
    NO_SNAPSHOT = "no balance known for this account"


@dataclass(frozen=True)
class BalanceSnapshot:
    """The collector's signed view of one account (signature already verified by sync)."""

    account_id: str
    balance: int
    sequence: int  # the collector's ledger position; debits journaled after it count against it


@dataclass(frozen=True)
class DebitPlan:
    verdict: Verdict
    amount: int
    available: int = 0  # snapshot balance minus own debits, before this payment
    allowance_left: int = 0  # offline allowance left before this payment

    @property
    def ok_offline(self) -> bool:
        return self.verdict is Verdict.APPROVE_OFFLINE


def _minor_units(values: Sequence[int], what: str) -> int:
    if not all(is_minor_units(v) for v in values):
        raise ValueError(f"{what} are non-negative integers in minor units")
    return sum(values)


def available_balance(snapshot: BalanceSnapshot, own_debits: Sequence[int], own_credits: Sequence[int] = ()) -> int:
    """Balance this terminal may assume: snapshot plus its own credits minus its own debits since the snapshot."""
    return snapshot.balance + _minor_units(own_credits, "credits") - _minor_units(own_debits, "debits")


def allowance_left(allowance: int, own_debits: Sequence[int], own_credits: Sequence[int] = ()) -> int:
    """Offline allowance left: debits first use the money credited here, then the snapshot's (up to `allowance`)."""
    return max(0, allowance + _minor_units(own_credits, "credits") - _minor_units(own_debits, "debits"))


def plan_face_debit(snapshot: BalanceSnapshot | None, own_debits: Sequence[int], amount: int, allowance: int,
                    online: bool, own_credits: Sequence[int] = ()) -> DebitPlan:
    """What would happen if this face account paid `amount` now (nothing is changed).

    Without a snapshot, the account is known here only by what this terminal credited itself (balance 0)."""
    if not is_minor_units(amount, minimum=1):
        raise ValueError("amount must be a positive integer in minor units")
    if allowance < 0:
        raise ValueError("offline allowance must be >= 0")
    if snapshot is None:
        if not own_credits:
            return DebitPlan(Verdict.AUTHORIZE_ONLINE if online else Verdict.NO_SNAPSHOT, amount)
        snapshot = BalanceSnapshot("", 0, 0)
    available = available_balance(snapshot, own_debits, own_credits)
    left = allowance_left(allowance, own_debits, own_credits)
    if online:
        return DebitPlan(Verdict.AUTHORIZE_ONLINE, amount, available, left)
    if amount > available:
        return DebitPlan(Verdict.INSUFFICIENT, amount, available, left)
    if amount > left:
        return DebitPlan(Verdict.OVER_ALLOWANCE, amount, available, left)
    return DebitPlan(Verdict.APPROVE_OFFLINE, amount, available, left)
