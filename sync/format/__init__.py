"""The wire formats both sides share: journal entries, batches, bundles, keys, face sealing, pairing messages,
and the stdlib-only bottom both build on (private files, a periodic job). Imports nothing from `terminal` or
`sync.collector`."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FIELDS": "sync.format.entry", "GENESIS": "sync.format.entry", "entry_hash": "sync.format.entry",
    "Batch": "sync.format.batch", "BatchError": "sync.format.batch", "make_batch": "sync.format.batch",
    "encode": "sync.format.batch", "decode": "sync.format.batch", "check": "sync.format.batch",
    "FORMAT": "sync.format.bundle", "BundleError": "sync.format.bundle", "sign_bundle": "sync.format.bundle",
    "encode_bundle": "sync.format.bundle",
    "verify_bundle": "sync.format.bundle", "signing_key": "sync.format.keys", "event_signing_key": "sync.format.keys",
    "public_hex": "sync.format.keys", "verify": "sync.format.keys", "SealError": "sync.format.face_keys",
    "seal_template": "sync.format.face_keys", "open_template": "sync.format.face_keys",
    "transport_key": "sync.format.face_keys", "PairingFailed": "sync.format.pairing",
    "make_request": "sync.format.pairing", "open_response": "sync.format.pairing",
    "write_private": "sync.format.private_files", "private_sqlite": "sync.format.private_files",
    "Periodic": "sync.format.periodic",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
