"""`stallpay emulator attach`: keep an emulated wristband in the vpcd virtual reader until interrupted.

For demos and for trying the terminal without hardware: the card is seen through pcscd by anything that speaks
PC/SC (the terminal, `pcsc_scan`, a plain pyscard script). With `--state FILE` the card's memory is saved after
every exchange that changed it, so a later run continues with the same wristband and balance.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from terminal.nfc.emulator import (
    DESFIRE_PRODUCTS,
    PRODUCTS,
    BankCardEmulator,
    ClassicEmulator,
    DesfireEmulator,
    NtagEmulator,
    PhoneEmulator,
    load_card,
    new_card,
)
from terminal.nfc.vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdBridge, reader_name_for_port

# Cards that are not wristbands of ours, to show the terminal refusing them.
FOREIGN = {"CLASSIC1K": ClassicEmulator, "BANKCARD": BankCardEmulator, "PHONE": PhoneEmulator}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("emulator", help="emulated cards in the vpcd virtual reader")
    sub = parser.add_subparsers(dest="emulator_command", metavar="ACTION")
    sub.required = True
    attach = sub.add_parser(
        "attach",
        help="keep an emulated card in the virtual reader until Ctrl-C",
        description="Keep an emulated card in the vpcd virtual reader (pcscd with vsmartcard-vpcd) until "
        "interrupted. With --state the card's memory persists across runs.",
    )
    attach.add_argument(
        "--product",
        type=str.upper,
        help=f"chip: {', '.join([*PRODUCTS, *DESFIRE_PRODUCTS])} (default NTAG215, or the one in --state), "
        f"or a foreign card: {', '.join(FOREIGN)}",
    )
    attach.add_argument("--uid", help="UID in hex (7 bytes for NTAG/Ultralight/DESFire); random if omitted")
    attach.add_argument("--random-uid", action="store_true",
                        help="DESFire: the reader sees a new random ID each tap (the real UID needs authentication)")
    attach.add_argument("--state", type=Path, help="JSON file holding the card; created if missing, saved on change")
    attach.add_argument("--host", default=DEFAULT_HOST, help=f"vpcd host (default {DEFAULT_HOST})")
    attach.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"vpcd port: {DEFAULT_PORT} = slot 00, +1 = slot 01"
    )
    attach.add_argument(
        "--connect-timeout", type=float, default=5.0, help="seconds to wait for vpcd before giving up (default 5)"
    )
    attach.set_defaults(func=run_attach)


def _parse_uid(text: str | None) -> bytes | None:
    if text is None:
        return None
    cleaned = text.replace(":", "").replace(" ", "").replace("-", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"--uid {text!r} is not hex") from None


def build_card(product: str | None, uid: bytes | None, state: Path | None, random_uid: bool = False) -> Any:
    """The card to attach: loaded from `state` if that file exists (checked against --product/--uid), else new."""
    if state is not None and state.exists():
        card = load_card(state)
        if product is not None and product != card.product:
            raise ValueError(f"{state} holds a {card.product}, not a {product}")
        if uid is not None and uid != card.uid:
            raise ValueError(f"{state} holds the card with UID {card.uid.hex().upper()}, not {uid.hex().upper()}")
        return card
    product = product or "NTAG215"
    if product in FOREIGN:
        if state is not None:
            raise ValueError(f"--state is for NTAG/Ultralight wristbands, not a {product}")
        return FOREIGN[product](uid=uid)
    if product not in PRODUCTS and product not in DESFIRE_PRODUCTS:
        known = ", ".join([*PRODUCTS, *DESFIRE_PRODUCTS, *FOREIGN])
        raise ValueError(f"unknown --product {product!r}; use one of {known}")
    if random_uid and product not in DESFIRE_PRODUCTS:
        raise ValueError(f"--random-uid is for DESFire cards, not a {product}")
    card = new_card(product, uid=uid, random_uid=random_uid)
    if state is not None:
        card.save(state)
    return card


def run_attach(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        print(f"stallpay emulator: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        card = build_card(args.product, _parse_uid(args.uid), args.state, args.random_uid)
    except ValueError as exc:
        print(f"stallpay emulator: {exc}", file=sys.stderr)
        return 2
    if args.state is not None and isinstance(card, NtagEmulator | DesfireEmulator):
        card.write_through(args.state)  # each change reaches the file before its answer reaches the reader
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    bridge = VpcdBridge(args.host, args.port).start()
    try:
        bridge.insert(card)
        if not bridge.wait_attached(args.connect_timeout):
            reason = bridge.last_error or f"no connection to vpcd at {args.host}:{args.port}"
            print(
                f"stallpay emulator: {reason} within {args.connect_timeout:g} s; "
                "is pcscd running with vsmartcard-vpcd?",
                file=sys.stderr,
            )
            return 3  # the exit-code table's DEVICE
        kind = getattr(card, "product", type(card).__name__)
        print(
            f"{kind} UID {card.uid.hex().upper()} is in {reader_name_for_port(args.port)!r} "
            f"(vpcd {args.host}:{args.port}); Ctrl-C takes it out",
            flush=True,
        )
        stop.wait()
    finally:
        bridge.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.state is not None:
        print(f"card saved to {args.state}", flush=True)
    return 0
