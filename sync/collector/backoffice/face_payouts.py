"""Face accounts in the guest portal: the guest freezes a lost account or asks for a refund to a bank account.
The request joins the card refunds (payout_requests, card_id 0): finance approves it and exports it in the same
SEPA file; marking the file paid checks the account out at the collector (a ledger refund), which closes it.

Freezing (status `frozen`) stops every new payment at once: the collector authorizes face payments online and
refuses any account that is not active. Asking for a refund freezes the account too, so its balance holds still."""

from __future__ import annotations

import secrets
from typing import Any

from sync.collector.backoffice.payouts import PayoutError, check_holder, check_iban
from sync.collector.event import now_iso
from sync.collector.face import FaceError, available, checkout, get_account
from sync.collector.face_freeze import set_frozen
from sync.collector.payout_requests import refund_open
from sync.collector.storage import Store


def freeze(store: Store, account_id: str) -> bool:
    """The guest blocks a lost account (audited as the guest's); True when it was active and is now frozen."""
    try:
        set_frozen(store, account_id, True, by="guest", reason="lost (portal)")
    except FaceError:
        return False  # not active (frozen already, closed): the guest sees the same answer
    return True


def face_refundable(store: Store, account_id: str) -> int:
    account = get_account(store, account_id)
    if account is None or account["status"] not in ("active", "frozen"):
        return 0
    return max(0, available(store, account_id))


def open_requests(store: Store, account_id: str) -> list[dict]:
    return store.query("SELECT request_id, amount, status FROM payout_requests WHERE account_id = ? "
                       "ORDER BY requested_at", [account_id])


def request_face_payout(store: Store, account_id: str, holder: str, iban: str, bic: str = "") -> dict[str, Any]:
    holder = check_holder(holder)
    iban, bic = check_iban(iban, bic)
    if refund_open(store, account_id=account_id):
        raise PayoutError("A refund for this account is already requested.")
    amount = face_refundable(store, account_id)
    if amount <= 0:
        raise PayoutError("There is nothing to refund on this account.")
    request_id = "PR" + secrets.token_hex(8).upper()
    with store.transaction():
        store.execute("INSERT INTO payout_requests (request_id, card_id, account_id, holder, iban, bic, amount, "
                      "status, requested_at) VALUES (?, 0, ?, ?, ?, ?, ?, 'requested', ?)",
                      [request_id, account_id, holder, iban, bic, amount, now_iso()])
        store.execute("UPDATE face_accounts SET status = 'frozen' WHERE account_id = ? AND status = 'active'",
                      [account_id])
    return {"request_id": request_id, "amount": amount}


def pay_face(store: Store, request: dict, *, by: str) -> dict[str, Any]:
    """The bank paid the transfer: the collector pays the account out in its ledger and closes it."""
    result = checkout(store, request["account_id"], by=by, pay_out_here=True)
    store.execute("UPDATE payout_requests SET status = 'paid', paid_at = ? WHERE request_id = ?",
                  [now_iso(), request["request_id"]])
    return {"request_id": request["request_id"], "account_id": request["account_id"], "paid": int(request["amount"]),
            "refunded_in_books": result["refund"]}
