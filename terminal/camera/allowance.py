"""Face accounts' spending on a terminal that may be offline. Pure functions over integer minor units.

A face account's balance lives in the collector's ledger (DESIGN.md), not on a
wristband. The terminal holds the last snapshot the collector signed (sync
verifies the signature before handing it here) and its own debits since then.
Online, the collector authorises the payment. Offline, the terminal may spend
at most `allowance` of its own since the snapshot, and never more than the
snapshot balance minus those debits: the allowance bounds what a guest could
overspend by paying at several offline terminals at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


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


def available_balance(snapshot: BalanceSnapshot, own_debits: Sequence[int]) -> int:
    """Balance this terminal may assume: snapshot minus its own debits journaled since the snapshot."""
    if any(not isinstance(d, int) or d < 0 for d in own_debits):
        raise ValueError("debits are non-negative integers in minor units")
    return snapshot.balance - sum(own_debits)


def plan_face_debit(snapshot: BalanceSnapshot | None, own_debits: Sequence[int], amount: int, allowance: int,
                    online: bool) -> DebitPlan:
    """What would happen if this face account paid `amount` now (nothing is changed)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError("amount must be a positive integer in minor units")
    if allowance < 0:
        raise ValueError("offline allowance must be >= 0")
    if snapshot is None:
        return DebitPlan(Verdict.AUTHORIZE_ONLINE if online else Verdict.NO_SNAPSHOT, amount)
    available = available_balance(snapshot, own_debits)
    left = max(0, allowance - sum(own_debits))
    if online:
        return DebitPlan(Verdict.AUTHORIZE_ONLINE, amount, available, left)
    if amount > available:
        return DebitPlan(Verdict.INSUFFICIENT, amount, available, left)
    if amount > left:
        return DebitPlan(Verdict.OVER_ALLOWANCE, amount, available, left)
    return DebitPlan(Verdict.APPROVE_OFFLINE, amount, available, left)
