"""What a secure-card (DESFire) driver and its caller exchange: the purse state, a personalisation plan, refusals.

The wallet's `ValueCard` protocol speaks in these types; they live down here
so that the driver (`terminal.nfc.desfire_purse`) never imports the wallet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from terminal.nfc.errors import CardError

ROLES = ("master", "credit", "debit", "read")
RECORD_BYTES = 32


class PurseMissing(CardError):
    """The event's application is not on the card: a blank card, or one of another event."""


class AlreadyPersonalised(CardError):
    """The application exists with its keys set: personalisation was done (perhaps by a torn issue)."""


@dataclass(frozen=True)
class PurseState:
    value: int | None  # None when the session's role may not read the value (read key: records only)
    records: tuple[bytes, ...]  # newest first, RECORD_BYTES each


@dataclass(frozen=True)
class Personalisation:
    """What the wallet decides for a new card: its application, limits and per-card keys."""

    aid: bytes
    max_balance: int
    identity: bytes  # up to 32 bytes for the free-read identity file
    keys: Callable[[bytes], dict[str, bytes]]  # real UID -> per-card key for each role
