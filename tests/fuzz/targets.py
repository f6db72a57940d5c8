"""Fuzz targets: each takes hostile bytes and may only refuse with its parser's own error type.

Raw targets get the bytes as they are; structure-aware inputs are made by `tests.fuzz.generate` (validly signed,
chained or sealed, with hostile fields) and fed to the same targets. Any other exception is a crash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.prepared import prepare
from sync.format.batch import BatchError, check_chain, check_signature, decode
from sync.format.bundle import BundleError, verify_bundle
from sync.format.keys import public_hex
from sync.format.pairing import PairingFailed, make_request, open_response
from terminal.nfc.ntag_purse import PurseImage
from terminal.printer.device_file import DeviceFileTransport
from terminal.printer.print_queue import PrintQueue
from terminal.wallet.keys import purse_key
from terminal.wallet.ntag_ops import parse_slots
from terminal.wallet.purse import PurseFormatError, PurseKeys, decode_header

EVENT = "fuzz-event"
MASTER = bytes(range(16))
UID = bytes.fromhex("04a1b2c3d4e5f6")
PURSE_KEYS = PurseKeys(purse_key(MASTER, UID, EVENT))
TERMINAL_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
BUNDLE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PAIR_CODE = "FUZZ-CODE-1234"
PAIR_REQUEST, PAIR_EPHEMERAL, PAIR_KEY = make_request(PAIR_CODE, event_id=EVENT, terminal_id=3,
                                                      public_key=public_hex(TERMINAL_KEY))


def purse(data: bytes) -> None:
    """A raw read of pages 0.. as the wallet gets it: header, then every slot."""
    try:
        image = PurseImage(UID, data)
        header = decode_header(PURSE_KEYS, UID, image.header)
        parse_slots(PURSE_KEYS, header, image, header.product)
    except PurseFormatError:
        pass


def batch(data: bytes) -> None:
    """What the collector does with an uploaded file before it stores anything: the worker's `prepare` (the typed
    path, else the reference decoder), then the reference decoder alone, and the signature check."""
    p = prepare("fuzz", data, copy_text=True)
    if p.batch is not None and not p.error:
        with contextlib.suppress(BatchError):
            check_signature(p.batch, public_hex(TERMINAL_KEY))
    try:
        b = decode(data)
        check_chain(b)
        check_signature(b, public_hex(TERMINAL_KEY))
    except BatchError:
        pass


def bundle(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        verify_bundle(data, public_hex(BUNDLE_KEY), EVENT)


def pairing(data: bytes) -> None:
    """The collector's answer to a pairing request, as the terminal opens it."""
    try:
        resp = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(resp, dict):
        return
    with contextlib.suppress(PairingFailed):
        open_response(PAIR_KEY, PAIR_EPHEMERAL, PAIR_REQUEST, resp)


# One queue for every input (opening one costs more than the input's whole run); /dev/null is a character
# device, so the transport treats it as a printer's /dev/usb/lp0 and writes nothing to disk.
_QUEUE = PrintQueue(":memory:", DeviceFileTransport(Path(os.devnull)), check_status=False, retry_delays=())


def print_queue(data: bytes) -> None:
    """A job row as a damaged SD card may hold it (any SQLite type in any column), then a start and a print."""
    queue = _QUEUE
    queue._db.execute("delete from jobs")
    queue.problem, queue._failures = None, 0
    queue._db.execute("insert into jobs (kind, label, format, payload, state, attempts, last_error, created, "
                      "printed, reprint_of) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _columns(data))
    queue.requeue_interrupted()
    queue.print_one()
    queue.jobs()


def _columns(data: bytes) -> list[object]:
    """Ten column values of hostile types cut from the input (blob, text, integer, real or NULL each)."""
    parts = (data.split(b"\x00") + [b""] * 10)[:10]
    values: list[object] = []
    for part in parts:
        kind = part[0] % 5 if part else 4
        body = part[1:]
        values.append([body, body.decode("utf-8", "replace"), int.from_bytes(body[:8], "little", signed=True),
                       float(len(body)) / 3, None][kind])
    values = [b"" if v is None and i in (0, 1, 2, 3, 4, 5, 7) else v for i, v in enumerate(values)]  # NOT NULL
    values[4] = "pending" if not parts[4] or parts[4][0] % 2 == 0 else values[4]  # mostly printable jobs
    return values


TARGETS: dict[str, Callable[[bytes], None]] = {
    "purse": purse, "batch": batch, "bundle": bundle, "pairing": pairing, "print_queue": print_queue}

CORPUS = Path(__file__).with_name("corpus")
logging.getLogger("terminal.printer.print_queue").setLevel(logging.ERROR)  # damaged jobs are expected here


def corpus(name: str) -> list[Path]:
    folder = CORPUS / name
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def keep(name: str, data: bytes) -> Path:
    """Add an input to the target's corpus (named by content, so the same input is kept once)."""
    import hashlib

    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha256(data).hexdigest()[:16]
    path.write_bytes(data)
    os.chmod(path, 0o644)
    return path
