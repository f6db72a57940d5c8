"""A journal entry as both sides see it: its fields in canonical order and its hash.

The terminal's journal chains entries with this hash; the collector recomputes it
for every entry it ingests. One definition, so the two can never disagree.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
# "decline" and "face" are info entries (refusals; face decisions with their scores): they never move money.
OPS = frozenset({"issue", "topup", "sale", "void", "close", "replace", "correct", "decline", "face",
                 "block"})  # block: a lost card reported at this terminal (no money; the collector hotlists it)
PHASES = frozenset({"intent", "commit", "abort", "info"})
# Entry fields in canonical order; the hash covers all of them but `hash`.
FIELDS = (
    "seq", "terminal_id", "event_id", "time", "clock_synced", "operator", "op", "phase", "ref",
    "card_id", "uid", "card_seq", "amount", "balance_before", "balance_after", "currency", "method",
    "items", "data", "prev_hash",
)  # fmt: skip


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes an entry's hash is computed over (also what the collector recomputes)."""
    body = {k: entry[k] for k in FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()
