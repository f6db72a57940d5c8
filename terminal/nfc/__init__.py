"""Readers, card drivers and card emulators."""
