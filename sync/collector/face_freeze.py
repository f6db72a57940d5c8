"""Freezing a face account at the collector (support desk, organizer): no payment or top-up on it anywhere.

The collector refuses online authorizations at once (`sync.collector.face.authorize` takes only active accounts);
bundles carry the frozen accounts' ids (`face.frozen`) so a terminal working offline declines them by name
(`face_frozen`) instead of treating them as unknown. Unfreezing reverses it at the next bundle. Both are written to
the audit log. A guest blocking a lost account in the portal goes through here too (`backoffice.face_payouts.freeze`);
an account with an open refund request stays frozen until finance rejects the request.
"""

from __future__ import annotations

from sync.collector.face import FaceError, check_account_id, get_account
from sync.collector.payout_requests import refund_open
from sync.collector.storage import Store

MAX_REASON = 200


def frozen_accounts(store: Store) -> list[str]:
    """The ids a bundle lists under `face.frozen`."""
    return [r["account_id"] for r in store.query("SELECT account_id FROM face_accounts WHERE status = 'frozen' "
                                                 "ORDER BY account_id")]


def set_frozen(store: Store, account_id: str, frozen: bool, *, by: str, reason: str = "") -> dict[str, str]:
    """Freeze an active account or unfreeze a frozen one; FaceError (with the status) for anything else, so a
    closed account is never reopened. Returns the account id and its status now."""
    from sync.collector.backoffice import audit  # here: the back office's routes build bundles, which import us

    check_account_id(account_id)
    reason = " ".join(reason.split())[:MAX_REASON]
    before, after = ("active", "frozen") if frozen else ("frozen", "active")
    with store.transaction():
        account = get_account(store, account_id)
        if account is None:
            raise FaceError(f"unknown face account {account_id}")
        if account["status"] == after:
            raise FaceError(f"face account {account_id} is already {after}")
        if account["status"] != before:
            raise FaceError(f"face account {account_id} is {account['status']}: it cannot be "
                            f"{'frozen' if frozen else 'unfrozen'}")
        if not frozen and refund_open(store, account_id=account_id):
            # the guest asked for the money back: spending it now would pay it out twice
            raise FaceError(f"face account {account_id} has a refund request open: reject it first")
        store.execute("UPDATE face_accounts SET status = ? WHERE account_id = ? AND status = ?",
                      [after, account_id, before])
    audit.record(store, by, "face account frozen" if frozen else "face account unfrozen", f"face:{account_id}",
                 reason=reason)
    return {"account_id": account_id, "status": after}
