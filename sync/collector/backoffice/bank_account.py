"""A guest's (or the organizer's) IBAN and BIC, checked with schwifty, refused in our own words.

schwifty's messages ("Invalid checksum digits", "Invalid BBAN structure: '…' doesn't match '8!n10!n'") are
for programmers and English only. Each kind of failure maps to one fixed sentence that is a message id of the
back office catalogues (`locale/*/backoffice.po`), so the page shows it in the guest's language, and it says
what to check rather than what the validator found.
"""

from __future__ import annotations

import re

from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    SchwiftyException,
)

MAX_TYPED = 64  # an IBAN has at most 34 characters; room for the spaces people type between groups

IBAN_CHECKSUM = ("This IBAN is not valid: its check digits do not match the number. Check the two digits after the "
                 "country code, then the rest of the number for a typing mistake.")
IBAN_LENGTH = ("This IBAN is not valid: it is too long or too short for its country. Check that no character is "
               "missing or typed twice.")
IBAN_COUNTRY = ("This IBAN is not valid: it does not start with a known country code. Check the first two letters "
                "(for example DE, TR or BG).")
IBAN_FORMAT = ("This IBAN is not valid: it may hold only letters and digits (spaces are fine), starting with two "
               "letters and two digits. Check for other characters.")
IBAN_BBAN = ("This IBAN is not valid: the bank code and account number do not have the form used in its country. "
             "Check the characters after the first four.")
IBAN_OTHER = "This IBAN is not valid. Check it against your bank card or bank statement."
BIC_LENGTH = "This BIC is not valid: a BIC has 8 or 11 characters. Check it on your bank statement."
BIC_COUNTRY = ("This BIC is not valid: its 5th and 6th letters are not a known country code. Check it on your bank "
               "statement.")
BIC_FORMAT = ("This BIC is not valid: it starts with 6 letters (bank and country), then 2 or 5 letters or digits. "
              "Check it on your bank statement.")
BIC_OTHER = "This BIC is not valid. Check it on your bank statement."
MESSAGES = (IBAN_CHECKSUM, IBAN_LENGTH, IBAN_COUNTRY, IBAN_FORMAT, IBAN_BBAN, IBAN_OTHER,
            BIC_LENGTH, BIC_COUNTRY, BIC_FORMAT, BIC_OTHER)  # every one is in each catalogue

_CHARACTERS = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")


class BankAccountError(ValueError):
    """An IBAN or BIC that cannot be used; the message is one of `MESSAGES`, a catalogue message id."""


def _iban_message(exc: SchwiftyException, typed: str) -> str:
    # stray characters, or a BBAN not in its country's form: schwifty says InvalidStructure for both
    structure = IBAN_BBAN if _CHARACTERS.fullmatch("".join(typed.split()).upper()) else IBAN_FORMAT
    return _first_kind(exc, ((InvalidCountryCode, IBAN_COUNTRY), (InvalidLength, IBAN_LENGTH),
                             (InvalidChecksumDigits, IBAN_CHECKSUM), (InvalidStructure, structure),
                             (InvalidBBANChecksum, IBAN_BBAN)), IBAN_OTHER)


def _bic_message(exc: SchwiftyException) -> str:
    return _first_kind(exc, ((InvalidLength, BIC_LENGTH), (InvalidCountryCode, BIC_COUNTRY),
                             (InvalidStructure, BIC_FORMAT)), BIC_OTHER)


def _first_kind(exc: SchwiftyException, kinds: tuple[tuple[type, str], ...], other: str) -> str:
    """The message of the first kind `exc` is (schwifty's classes, checked in order: some derive from others)."""
    return next((message for kind, message in kinds if isinstance(exc, kind)), other)


def check_account(iban: str, bic: str = "") -> tuple[str, str]:
    """(IBAN, BIC) normalised (compact IBAN; the BIC typed, else the one schwifty knows for the bank, else "");
    BankAccountError naming what to check when either is not valid."""
    if len(iban) > MAX_TYPED:
        raise BankAccountError(IBAN_LENGTH)
    try:
        account = IBAN(iban)
    except SchwiftyException as exc:
        raise BankAccountError(_iban_message(exc, iban)) from None
    code = ""
    if bic.strip():
        if len(bic.strip()) > MAX_TYPED:
            raise BankAccountError(BIC_LENGTH)
        try:
            code = str(BIC(bic.strip()))
        except SchwiftyException as exc:
            raise BankAccountError(_bic_message(exc)) from None
    elif account.bic is not None:
        code = str(account.bic)
    return str(account.compact), code
