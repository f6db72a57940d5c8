"""What the wallet needs from a card: the small interface that `terminal.nfc` implements.

The wallet never sees APDUs or readers. A driver gives it page reads and
writes, password authentication and, where the chip has one, a one-way
counter; the wallet decides what to write where.
"""

from __future__ import annotations

from typing import Protocol

from terminal.nfc.errors import CardAuthError, CardError, CardRemoved, UnsupportedCard
from terminal.nfc.ntag import PAGE, CardInfo

__all__ = ["PAGE", "CardAuthError", "CardError", "CardInfo", "CardRemoved", "PurseTag", "UnsupportedCard"]


class PurseTag(Protocol):
    """A tapped NTAG21x / Ultralight EV1 as the wallet sees it."""

    @property
    def info(self) -> CardInfo: ...

    def read_pages(self, start: int, count: int) -> bytes:
        """FAST_READ of `count` pages from `start` (4*count bytes)."""
        ...

    def write_page(self, page: int, data: bytes) -> None:
        """WRITE of one 4-byte page."""
        ...

    def authenticate(self, password: bytes) -> bytes:
        """PWD_AUTH; returns PACK. Raises CardAuthError when refused."""
        ...

    def protect(self, password: bytes, pack: bytes, auth0: int) -> None:
        """Set PWD, PACK and AUTH0 (writes from page auth0 on need the password; reads stay open)."""
        ...

    def read_counter(self) -> int | None:
        """READ_CNT of counter 0 on Ultralight EV1; None on chips without INCR_CNT."""
        ...

    def increment_counter(self) -> None:
        """INCR_CNT counter 0 by one (Ultralight EV1 only)."""
        ...

    def read_signature(self) -> bytes:
        """READ_SIG: the 32-byte ECC originality signature (r || s over secp128r1)."""
        ...

    def hint_product(self, product: str) -> None:
        """The product as the card's sealed header names it, so the driver need not ask the chip."""
        ...

    @property
    def exchanges(self) -> int:
        """Card exchanges made since the tap, for benchmarks."""
        ...
