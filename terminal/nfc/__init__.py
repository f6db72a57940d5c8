"""Readers, card drivers and card emulators."""

from terminal.nfc.ntag import NtagTag, identify
from terminal.nfc.reader import Connection, NoCard, Reader, ReaderError, open_reader

__all__ = ["Connection", "NoCard", "NtagTag", "Reader", "ReaderError", "identify", "open_reader"]
