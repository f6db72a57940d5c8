"""DESFire personalisation: creating and deleting an application and its files.

Only issuing (and resetting a card of this event) runs these, once per card;
they are functions over a `DesfireCard` so the card's own class keeps the
commands every tap uses.
"""

from __future__ import annotations

from terminal.nfc.desfire import DesfireCard


def create_application(card: DesfireCard, aid: bytes, key_settings: int, key_count: int) -> None:
    card.command(0xCA, aid + bytes([key_settings, 0x80 | key_count]), mode=card.plain_or_mac(),
                 what="CreateApplication")


def delete_application(card: DesfireCard, aid: bytes) -> None:
    card.command(0xDA, aid, mode=card.plain_or_mac(), what="DeleteApplication")
    card.session = None


def create_std_file(card: DesfireCard, file_no: int, comm: int, access: bytes, size: int) -> None:
    card.command(0xCD, bytes([file_no, comm]) + access + size.to_bytes(3, "little"), mode=card.plain_or_mac(),
                 what="CreateStdDataFile")


def create_value_file(card: DesfireCard, file_no: int, comm: int, access: bytes, lower: int, upper: int, value: int,
                      limited_credit: bool) -> None:
    body = b"".join(v.to_bytes(4, "little", signed=True) for v in (lower, upper, value))
    card.command(0xCC, bytes([file_no, comm]) + access + body + bytes([int(limited_credit)]),
                 mode=card.plain_or_mac(), what="CreateValueFile")


def create_cyclic_record_file(card: DesfireCard, file_no: int, comm: int, access: bytes, record_size: int,
                              max_records: int) -> None:
    card.command(0xC0, bytes([file_no, comm]) + access + record_size.to_bytes(3, "little")
                 + max_records.to_bytes(3, "little"), mode=card.plain_or_mac(), what="CreateCyclicRecordFile")
