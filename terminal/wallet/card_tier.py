"""The card interface the wallet's operations are written over, once for both tiers.

An operation asks a tier to `open` the tapped card (read its purse state,
settle pending intents, refuse blocked, rolled-back or forged cards), then
plans a new `Record` with the rules, journals an intent carrying what
`prepare` says will be written, asks the tier to `write` the record with its
money `Change` and commit it on the card, and journals the commit. The NTAG
tier (`ntag_ops`) turns that into sealed records on pages; the DESFire tier
(`desfire_ops`) into a value-file change and a history record closed by
CommitTransaction. Only personalising a blank card differs too much to share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from terminal.wallet.purse import Record
from terminal.wallet.rules import Declined

if TYPE_CHECKING:
    from terminal.wallet.operations import CardState, Outcome


@dataclass(frozen=True)
class Change:
    """What a write does to the money on the card: "credit", "debit" or "refund" (give back the last debit)."""

    kind: str
    amount: int


class TappedPurse(Protocol):
    """A card as `CardTier.open` read it."""

    uid: bytes

    @property
    def card_id(self) -> int: ...

    @property
    def current(self) -> Record: ...

    @property
    def previous(self) -> Record | None:
        """The record just before the current one, when the card still shows it."""
        ...


class CardTier(Protocol):
    """One card technology as the wallet's operations see it."""

    ntag: bool  # the NTAG tier's own balance cap and daily credit ceiling apply

    def open(self, tag: Any, *, operator: str | None, purpose: str) -> Any:
        """Read the purse state, settle this card's pending intents and refuse unusable cards: a `TappedPurse`.
        `purpose` is "read", "topup", "sale", "void" or "close"."""
        ...

    def decline(self, tap: Any, operator: str | None, exc: Declined) -> Declined:
        """Journal a refusal of the tapped card; returns it to raise."""
        ...

    def prepare(self, tap: Any, planned: Record) -> dict[str, Any]:
        """The intent's data: the exact bytes that will be written (refuses a record the card cannot hold)."""
        ...

    def write(self, tap: Any, intent: dict[str, Any], change: Change, operator: str | None) -> None:
        """Write and commit on the card. A refusal before anything was written aborts the intent; a card that
        left after the first write raises TapAgain (the next tap settles it)."""
        ...

    def finish(self, tap: Any, intent: dict[str, Any], planned: Record) -> CardState:
        """After the journal's commit: remember the card's new state, and what it shows now."""
        ...

    def state(self, tap: Any) -> CardState: ...

    def activate(self, tag: Any, op: str, record: Record, *, method: str | None, operator: str | None,
                 data: dict[str, Any]) -> Outcome:
        """Issue or replacement: the first record onto a blank card, personalising it as the tier needs."""
        ...
