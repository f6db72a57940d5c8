"""Card errors, raised by readers and drivers; the wallet and the front ends catch them.

They live here, at the bottom of the card stack, so that `terminal.nfc` never
imports the wallet; `terminal.wallet.card` re-exports them under their old names.
"""

from __future__ import annotations


class CardError(Exception):
    """A card problem with a one-line reason fit for the person at the terminal."""


class CardRemoved(CardError):
    """The card left the field (or the reader went away) in the middle of an exchange."""


class UnsupportedCard(CardError):
    """Not a wristband of ours: MIFARE Classic, a bank card, a phone, too small a chip..."""


class CardAuthError(CardError):
    """The card refused the password, or a write that needed one."""
