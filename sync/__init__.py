"""StallPay sync: the shared wire formats (`sync.format`), the collector service (`sync.collector`) and the
simulation that drives both sides (`sync.sim`). The terminal's side of sync is `terminal.uplink`.

Public names are exported lazily, so that importing one submodule (as ingest's
worker processes do) does not load the web framework.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Batch": "sync.format.batch", "BatchError": "sync.format.batch", "make_batch": "sync.format.batch",
    "encode": "sync.format.batch", "decode": "sync.format.batch", "check": "sync.format.batch",
    "IngestResult": "sync.collector.ingest", "ingest_bytes": "sync.collector.ingest",
    "ingest_many": "sync.collector.ingest", "ingest_paths": "sync.collector.ingest",
    "contiguous_seq": "sync.collector.ingest", "Store": "sync.collector.storage",
    "StoreError": "sync.collector.storage", "open_store": "sync.collector.storage",
    "init_event": "sync.collector.event", "EnrollmentError": "sync.collector.enrollment",
    "enroll": "sync.collector.enrollment", "new_pairing_code": "sync.collector.enrollment",
    "pair": "sync.collector.enrollment", "revoke": "sync.collector.enrollment",
    "LedgerError": "sync.collector.ledger", "reconcile": "sync.collector.ledger",
    "card_balances": "sync.collector.ledger", "block_card": "sync.collector.ledger",
    "unblock_card": "sync.collector.ledger", "hotlist": "sync.collector.ledger",
    "replacement_quote": "sync.collector.ledger", "refundable": "sync.collector.refunds",
    "refund_cards": "sync.collector.refunds", "summary": "sync.collector.summary",
    "REPORTS": "sync.collector.reports", "ReportError": "sync.collector.reports",
    "run_named": "sync.collector.reports", "BundleError": "sync.format.bundle", "verify_bundle": "sync.format.bundle",
    "build_bundle": "sync.collector.bundle", "collector_public_key": "sync.collector.bundle",
    "create_app": "sync.collector.api", "FaceError": "sync.collector.face", "authorize": "sync.collector.face",
    "checkout": "sync.collector.face", "erase_account": "sync.collector.face",
    "upload_template": "sync.collector.face", "pending_erasures": "sync.collector.face",
    "face_summary": "sync.collector.face_books", "seal_template": "sync.format.face_keys",
    "open_template": "sync.format.face_keys", "transport_key": "sync.format.face_keys",
    "PairingFailed": "sync.format.pairing", "make_request": "sync.format.pairing",
    "open_response": "sync.format.pairing", "SimError": "sync.sim.simulation", "simulate": "sync.sim.simulation",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
