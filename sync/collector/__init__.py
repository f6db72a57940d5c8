"""The collector service: ingest, ledger, reports, enrollment, face accounts, bundle building, the HTTP API,
the back office and its own CLI (`stallpay-collector`). Imports only `sync.format` (and third-party code)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
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
    "run_named": "sync.collector.reports", "build_bundle": "sync.collector.bundle",
    "collector_public_key": "sync.collector.bundle", "create_app": "sync.collector.api",
    "FaceError": "sync.collector.face", "authorize": "sync.collector.face", "checkout": "sync.collector.face",
    "erase_account": "sync.collector.face", "upload_template": "sync.collector.face",
    "pending_erasures": "sync.collector.face", "face_summary": "sync.collector.face_books",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
