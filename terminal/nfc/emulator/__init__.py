"""Emulated cards: reader backends that answer APDUs like the real chips behind an ACR122U."""

from terminal.nfc.emulator.atr import iso_dep_atr, storage_card_atr
from terminal.nfc.emulator.foreign import BankCardEmulator, ClassicEmulator, PhoneEmulator
from terminal.nfc.emulator.ntag import PRODUCTS, EmulatedCard, NtagEmulator, ProductSpec

__all__ = [
    "PRODUCTS",
    "BankCardEmulator",
    "ClassicEmulator",
    "EmulatedCard",
    "NtagEmulator",
    "PhoneEmulator",
    "ProductSpec",
    "iso_dep_atr",
    "storage_card_atr",
]
