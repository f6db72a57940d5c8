"""StallPay sync: terminal-side batches and upload, the collector (ingest, ledger, bundles, reports, API).

Public names are exported lazily, so that importing one submodule (as ingest's
worker processes do) does not load the web framework and the card wallet.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Batch": "sync.batch", "BatchError": "sync.batch", "make_batch": "sync.batch", "encode": "sync.batch",
    "decode": "sync.batch", "check": "sync.batch",
    "batches": "sync.export", "export_to_dir": "sync.export",
    "IngestResult": "sync.ingest", "ingest_bytes": "sync.ingest", "ingest_many": "sync.ingest",
    "ingest_paths": "sync.ingest", "contiguous_seq": "sync.ingest",
    "Store": "sync.storage", "StoreError": "sync.storage", "open_store": "sync.storage",
    "init_event": "sync.event",
    "EnrollmentError": "sync.enrollment", "enroll": "sync.enrollment", "new_pairing_code": "sync.enrollment",
    "pair": "sync.enrollment", "revoke": "sync.enrollment",
    "LedgerError": "sync.ledger", "reconcile": "sync.ledger", "card_balances": "sync.ledger",
    "block_card": "sync.ledger", "unblock_card": "sync.ledger", "hotlist": "sync.ledger",
    "replacement_quote": "sync.ledger",
    "refundable": "sync.refunds", "refund_cards": "sync.refunds",
    "summary": "sync.summary",
    "REPORTS": "sync.reports", "ReportError": "sync.reports", "run_named": "sync.reports",
    "BundleError": "sync.bundle", "build_bundle": "sync.bundle", "verify_bundle": "sync.bundle",
    "apply_bundle_bytes": "sync.bundle",
    "CollectorClient": "sync.client", "SyncFailed": "sync.client",
    "TerminalSync": "sync.terminal_side", "open_terminal": "sync.terminal_side",
    "SyncPolicy": "sync.terminal_state", "SyncOverdue": "sync.terminal_state",
    "create_app": "sync.api",
    "FaceError": "sync.face", "authorize": "sync.face", "checkout": "sync.face", "erase_account": "sync.face",
    "upload_template": "sync.face", "pending_erasures": "sync.face", "face_summary": "sync.face",
    "seal_template": "sync.face_keys", "open_template": "sync.face_keys", "transport_key": "sync.face_keys",
    "PairingFailed": "sync.pairing", "make_request": "sync.pairing", "open_response": "sync.pairing",
    "collector_public_key": "sync.bundle",
    "SimError": "sync.sim", "simulate": "sync.sim",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sync' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
