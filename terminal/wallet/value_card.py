"""What the wallet needs from a card that keeps its own value (MIFARE DESFire): the secure-card interface.

The wallet speaks of roles, a purse value, a history of records and a
commit; the driver (`terminal.nfc.desfire_purse`) maps that onto
applications, key numbers, files, access rights and EV2 sessions. The card,
not the terminal, enforces who may credit: a session opened with the debit
key can only take money off (and give back the last debit), so a terminal
without the credit key cannot create money on a card whatever its software.
"""

from __future__ import annotations

from typing import Protocol

from terminal.nfc.secure_card import (
    RECORD_BYTES,
    ROLES,
    AlreadyPersonalised,
    Personalisation,
    PurseMissing,
    PurseState,
)

__all__ = ["RECORD_BYTES", "ROLES", "AlreadyPersonalised", "Personalisation", "PurseMissing", "PurseState",
           "ValueCard", "is_value_card"]


class ValueCard(Protocol):
    """A tapped secure card. Every money change is staged until `commit`; leaving the field drops it."""

    product: str
    exchanges: int

    def key_uid(self, aid: bytes) -> bytes:
        """The UID the card keys are diversified on (the reader's, or the identity file's on random-UID cards)."""
        ...

    def open(self, aid: bytes, role: str, key: bytes) -> None:
        """Select the application (if not yet) and authenticate with the role's key."""
        ...

    def read_purse(self, history: int = 1) -> PurseState:
        """The value (if the role may read it) and up to `history` newest records."""
        ...

    def debit(self, amount: int) -> None: ...

    def credit(self, amount: int) -> None:
        """Needs the credit role; the card refuses it to any other key."""
        ...

    def refund_last_debit(self, amount: int) -> None:
        """Limited credit: at most the debits of the card's last committed transaction, once."""
        ...

    def append_history(self, record: bytes) -> None: ...

    def commit(self) -> None: ...

    def change_role_keys(self, aid: bytes, master_key: bytes, changes: list[tuple[str, bytes, list[bytes]]],
                         version: int = 1) -> None:
        """With the application master key: set each role's key to the new one, trying each possible current key
        (a band torn during an earlier rotation holds some keys of each epoch)."""
        ...

    def unfinished_uid(self, aid: bytes) -> bytes | None:
        """The real UID of a card whose personalisation was torn before its keys were set, else None."""
        ...

    def product_name(self) -> str:
        """Ask the chip which product it is (personalisation only)."""
        ...

    def begin_personalisation(self, aid: bytes) -> bytes:
        """Create the event's application on a blank card; returns the real UID. AlreadyPersonalised if done."""
        ...

    def finish_personalisation(self, plan: Personalisation, uid: bytes, master_key: bytes) -> None:
        """Files, identity and per-card keys; `master_key` becomes the application master key."""
        ...


def is_value_card(tag: object) -> bool:
    return hasattr(tag, "read_purse") and hasattr(tag, "begin_personalisation")
