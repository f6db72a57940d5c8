"""The terminal's side of sync: batches out of the journal (export, upload), bundles in (applied through
their owners), the sync state and policy, the face-sync window."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "batches": "terminal.uplink.export", "export_to_dir": "terminal.uplink.export",
    "CollectorClient": "terminal.uplink.client", "SyncFailed": "terminal.uplink.client",
    "TerminalSync": "terminal.uplink.terminal_side", "open_terminal": "terminal.uplink.terminal_side",
    "SyncPolicy": "terminal.uplink.terminal_state", "SyncOverdue": "terminal.uplink.terminal_state",
    "apply_bundle": "terminal.uplink.bundle_apply", "apply_bundle_bytes": "terminal.uplink.bundle_apply",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
