"""Whether a guest has asked for a card's or a face account's money back and the request is not yet settled.

A request that is requested, approved or exported (not rejected, not paid) holds the money still: the card stays
blocked, the account frozen, and no second request is taken (`backoffice.payouts`, `ledger.unblock_card`,
`face_freeze.set_frozen`)."""

from __future__ import annotations

from sync.collector.storage import Store

OPEN = ("requested", "approved", "exported")
_MARKS = ", ".join("?" * len(OPEN))


def refund_open(store: Store, *, card_id: int | None = None, account_id: str | None = None) -> bool:
    """True when the card (or, with `account_id`, the face account) has an unsettled refund request."""
    column, value = ("account_id", account_id) if account_id is not None else ("card_id", card_id)
    return bool(store.scalar(f"SELECT 1 FROM payout_requests WHERE {column} = ? AND status IN ({_MARKS})",
                             [value, *OPEN]))
