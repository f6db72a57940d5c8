"""The cashier's card jobs that move no money: a lost card reported, what a band is, where a replacement's money
comes from.

- A lost card reported at the desk is hotlisted here at once and journaled as a `block` entry, so the collector
  hotlists it at the next sync and every stall refuses it after its next bundle (offline-first: nothing to call).
- A band's view carries its short printed id (`#card number`, as on receipts and the collector's reports), the
  holder named at issue (from this terminal's journal) and its full history from the journal, beyond the few
  records the chip keeps.
- A replacement takes its balance and complimentary part from the old band read at this desk (`remember`), or
  from the collector's quote when the band is gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from terminal.money import MONEY_OPS, moved_money
from terminal.refusal import Refusal
from terminal.wallet.journal import Journal

READ_VALID_S = 600  # an old band read longer ago than this is read again before it is replaced


def printed_id(card_id: int | None) -> str:
    """The short id printed on the band's label, shown on screen and on receipts."""
    return "-" if card_id is None else f"#{card_id}"


@dataclass(frozen=True)
class ReplacementSource:
    card_id: int
    balance: int
    comp: int
    source: str  # "band" (read at this desk) or "collector" (its ledger quote)


class CardDeskError(Refusal):
    """A card-desk request (history, replacement source) that cannot be answered."""


class CardDesk:
    def __init__(self, journal: Journal, hotlist: Any, clock: Any = time.time) -> None:
        self.journal = journal
        self.hotlist = hotlist
        self._clock = clock
        self._read: tuple[float, ReplacementSource] | None = None

    # --- lost cards -------------------------------------------------------------------------------------

    def report_lost(self, card_id: int, *, operator: str | None, reason: str = "lost") -> dict[str, Any]:
        """Refuse the card here now and tell the collector through the journal (uploaded at the next sync)."""
        if not isinstance(card_id, int) or isinstance(card_id, bool) or card_id <= 0:
            raise CardDeskError("bad_card", "a card number is a whole number above zero")
        reason = (reason or "lost").strip()[:60] or "lost"
        self.hotlist.add(card_id, reason)
        return self.journal.append("block", "info", card_id=card_id, operator=operator, data={"reason": reason})

    # --- what a band is ---------------------------------------------------------------------------------

    def holder(self, card_id: int) -> str | None:
        for entry in self.journal.entries(card_id=card_id):
            if entry["op"] == "issue" and entry["phase"] == "commit":
                holder = (entry.get("data") or {}).get("holder")
                return str(holder) if holder else None
        return None

    def history(self, card_id: int, ops: tuple[str, ...] = MONEY_OPS) -> list[dict[str, Any]]:
        """Every committed money movement of this card at this terminal, newest first."""
        return [e for e in self.journal.entries(card_id=card_id) if moved_money(e, ops)][::-1]

    # --- replacement ------------------------------------------------------------------------------------

    def remember(self, card_id: int, balance: int, comp: int) -> None:
        """The band just read at this desk: what a replacement of it would carry."""
        self._read = (self._clock(), ReplacementSource(card_id, balance, min(comp, balance), "band"))

    def from_band(self, card_id: int) -> ReplacementSource | None:
        if self._read is None:
            return None
        at, source = self._read
        if source.card_id != card_id or self._clock() - at > READ_VALID_S:
            return None
        return source

    def forget(self) -> None:
        self._read = None
