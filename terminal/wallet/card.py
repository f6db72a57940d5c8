"""What a tap hands the wallet, and the card errors it catches.

The wallet never sees APDUs, pages or readers. A tapped card is an NTAG/Ultralight
tag (`terminal.nfc.ntag.NtagTag`, whose purse pages, password and counter the
NTAG driver `terminal.nfc.ntag_purse` handles) or a secure card (`ValueCard`);
`Wallet` picks the tier (`card_tier.CardTier`) and speaks only in purse terms:
read the purse state, write a record with its money change, commit.
"""

from __future__ import annotations

from typing import Protocol

from terminal.nfc.errors import CardAuthError, CardError, CardRemoved, UnsupportedCard
from terminal.nfc.ntag import PAGE, CardInfo

__all__ = ["PAGE", "CardAuthError", "CardError", "CardInfo", "CardRemoved", "PurseTag", "UnsupportedCard"]


class PurseTag(Protocol):
    """A tapped card as the front ends pass it to the wallet (either tier)."""

    @property
    def exchanges(self) -> int:
        """Card exchanges made since the tap, for benchmarks."""
        ...
