"""Emulated cards: reader backends that answer APDUs like the real chips behind an ACR122U."""

from terminal.nfc.emulator.atr import iso_dep_atr, storage_card_atr
from terminal.nfc.emulator.desfire import DesfireEmulator
from terminal.nfc.emulator.foreign import BankCardEmulator, ClassicEmulator, PhoneEmulator
from terminal.nfc.emulator.ntag import EmulatedCard, NtagEmulator
from terminal.nfc.emulator.ntag_products import PRODUCTS, ProductSpec
from terminal.nfc.emulator.state_files import DESFIRE_PRODUCTS, load_card, new_card

__all__ = [
    "DESFIRE_PRODUCTS",
    "PRODUCTS",
    "BankCardEmulator",
    "ClassicEmulator",
    "DesfireEmulator",
    "EmulatedCard",
    "NtagEmulator",
    "PhoneEmulator",
    "ProductSpec",
    "iso_dep_atr",
    "load_card",
    "new_card",
    "storage_card_atr",
]
