"""Emulated wristbands by product name and from state files, whichever chip family they are."""

from __future__ import annotations

import json
import os
from pathlib import Path

from terminal.nfc.emulator.desfire import STATE_FORMAT as DESFIRE_FORMAT
from terminal.nfc.emulator.desfire import VERSIONS, DesfireEmulator
from terminal.nfc.emulator.ntag import NtagEmulator
from terminal.nfc.emulator.ntag_products import PRODUCTS

DESFIRE_PRODUCTS = tuple(VERSIONS)


def new_card(product: str, uid: bytes | None = None, *, random_uid: bool = False) -> NtagEmulator | DesfireEmulator:
    """A factory-fresh card of `product` (NTAG21x/Ultralight EV1 or DESFIRE_EV2/EV3)."""
    if product in VERSIONS:
        return DesfireEmulator(product, uid=uid, random_uid=random_uid)
    if product in PRODUCTS:
        if random_uid:
            raise ValueError(f"a {product} has a fixed UID")
        return NtagEmulator(product, uid=uid)
    raise ValueError(f"unknown product {product!r}; one of {', '.join([*PRODUCTS, *VERSIONS])}")


def load_card(path: str | os.PathLike[str]) -> NtagEmulator | DesfireEmulator:
    """The card saved in `path`, NTAG or DESFire as the file says."""
    try:
        fmt = json.loads(Path(path).read_text()).get("format")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"cannot read card state file {os.fspath(path)}: {exc}") from exc
    if fmt == DESFIRE_FORMAT:
        return DesfireEmulator.load(path)
    return NtagEmulator.load(path)
