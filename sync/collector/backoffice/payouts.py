"""Refunds to a bank account: a guest asks in the portal, finance approves, exports a SEPA credit transfer
(pain.001.001.03) and marks the file paid, which refunds and closes the card in the books.

Asking blocks the band at once, so the balance cannot change while the request waits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sync.collector.backoffice.bank_account import BankAccountError, check_account
from sync.collector.backoffice.cards import refundable_card
from sync.collector.event import get_meta, get_setting, now_iso, set_setting
from sync.collector.ledger import block_card
from sync.collector.payout_requests import refund_open
from sync.collector.refunds import refund_cards
from sync.collector.storage import Store


class PayoutError(Exception):
    """A payout step that cannot be done; the message says why, for the person in front of the screen."""


def check_iban(iban: str, bic: str = "") -> tuple[str, str]:
    """(IBAN, BIC) normalised; PayoutError when either is not valid, in words of the catalogues that say what
    to check (`sync.collector.backoffice.bank_account`)."""
    try:
        return check_account(iban, bic)
    except BankAccountError as exc:
        raise PayoutError(str(exc)) from None


def sepa_name(name: str, refusal: str) -> str:
    """An account name as the SEPA file carries it: spaces collapsed, 2 to 70 printable characters (a control
    character or NUL would break the XML export of every payout, or the database write); else `refusal`."""
    name = " ".join(name.split())
    if not 2 <= len(name) <= 70 or not name.isprintable():
        raise PayoutError(refusal)
    return name


def check_holder(holder: str) -> str:
    """The guest's account holder name (`sepa_name`), in the portal's words."""
    return sepa_name(holder, "Enter the account holder's name (2 to 70 characters).")


def request_payout(store: Store, card_id: int, holder: str, iban: str, bic: str = "") -> dict[str, Any]:
    holder = check_holder(holder)
    iban, bic = check_iban(iban, bic)
    if refund_open(store, card_id=card_id):
        raise PayoutError("A refund for this wristband is already requested.")
    due = refundable_card(store, card_id)
    if due is None or due["refundable"] <= 0:
        raise PayoutError("There is nothing to refund on this wristband.")
    request_id = "PR" + secrets.token_hex(8).upper()
    with store.transaction():
        store.execute("INSERT INTO payout_requests (request_id, card_id, holder, iban, bic, amount, status, "
                      "requested_at) VALUES (?, ?, ?, ?, ?, ?, 'requested', ?)",
                      [request_id, card_id, holder, iban, bic, due["refundable"], now_iso()])
        block_card(store, card_id, "refund requested by the guest", source="portal")
    return {"request_id": request_id, "amount": due["refundable"]}


def payouts(store: Store, status: str | None = None) -> list[dict]:
    sql = "SELECT * FROM payout_requests"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    return store.query(sql + " ORDER BY requested_at, request_id", params)


def decide(store: Store, request_id: str, *, approve: bool, by: str) -> dict[str, Any]:
    rows = store.query("SELECT * FROM payout_requests WHERE request_id = ?", [request_id])
    if not rows or rows[0]["status"] != "requested":
        raise PayoutError("this request is not waiting for a decision")
    amount = rows[0]["amount"]
    if approve and rows[0].get("account_id"):  # a face account: what it may still spend
        from sync.collector.backoffice.face_payouts import face_refundable

        amount = face_refundable(store, rows[0]["account_id"])
        if amount <= 0:
            raise PayoutError("the account has nothing left to refund")
    elif approve:  # the amount is what the books say now (late syncs may have changed it)
        now = refundable_card(store, rows[0]["card_id"])
        amount = now["refundable"] if now else 0
        if amount <= 0:
            raise PayoutError("the card has nothing left to refund")
    store.execute("UPDATE payout_requests SET status = ?, amount = ?, decided_by = ?, decided_at = ? "
                  "WHERE request_id = ?", ["approved" if approve else "rejected", amount, by, now_iso(), request_id])
    return {"request_id": request_id, "status": "approved" if approve else "rejected", "amount": amount}


def debtor(store: Store) -> dict[str, str]:
    return get_setting(store, "sepa_debtor") or {}


def set_debtor(store: Store, name: str, iban: str, bic: str) -> dict[str, str]:
    name = sepa_name(name, "enter the organizer's account name (2 to 70 characters)")
    iban, bic = check_iban(iban, bic)
    if not bic:
        raise PayoutError("enter the organizer's BIC")
    value = {"name": name, "iban": iban, "bic": bic}
    set_setting(store, "sepa_debtor", value)
    return value


def export_sepa(store: Store, *, by: str) -> tuple[str, bytes]:
    """pain.001.001.03 for every approved request; they become 'exported' under one export id."""
    from sepaxml import SepaTransfer

    account = debtor(store)
    if not account:
        raise PayoutError("set the organizer's bank account first")
    todo = payouts(store, "approved")
    if not todo:
        raise PayoutError("no approved refunds to export")
    currency = get_meta(store, "currency") or "EUR"
    if currency != "EUR":
        raise PayoutError("SEPA credit transfers are in euro only")
    export_id = "SP" + dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(3).upper()
    sepa = SepaTransfer({"name": account["name"], "IBAN": account["iban"], "BIC": account["bic"],
                         "batch": True, "currency": "EUR"}, schema="pain.001.001.03", clean=True)
    event = get_meta(store, "event_id") or ""
    for p in todo:
        payment: dict[str, Any] = {"name": p["holder"], "IBAN": p["iban"], "amount": int(p["amount"]),
                                   "execution_date": dt.date.today(),
                                   "description": (f"Refund {event} face account {p['account_id']}"
                                                   if p.get("account_id") else
                                                   f"Refund {event} card {p['card_id']}")[:140],
                                   "endtoend_id": p["request_id"]}
        if p["bic"]:
            payment["BIC"] = p["bic"]
        sepa.add_payment(payment)
    xml = sepa.export(validate=True)
    with store.transaction():  # the file is kept with the requests it pays: it can be downloaded again
        store.execute("UPDATE payout_requests SET status = 'exported', export_id = ? WHERE status = 'approved'",
                      [export_id])
        keep_file(store, export_id, xml, by)
    return export_id, xml


def keep_file(store: Store, export_id: str, xml: bytes, by: str) -> None:
    store.execute("INSERT INTO sepa_files (export_id, xml, sha256, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                  [export_id, xml.decode("utf-8"), hashlib.sha256(xml).hexdigest(), by, now_iso()])


def stored_file(store: Store, export_id: str) -> bytes | None:
    """A SEPA file exactly as it was exported (the same bytes, checked against their hash)."""
    rows = store.query("SELECT xml, sha256 FROM sepa_files WHERE export_id = ?", [export_id])
    if not rows:
        return None
    data = rows[0]["xml"].encode("utf-8")
    if hashlib.sha256(data).hexdigest() != rows[0]["sha256"]:
        raise PayoutError(f"the stored file {export_id} does not match its hash")
    return data


def exports(store: Store) -> list[dict]:
    return store.query("SELECT export_id, COUNT(*) AS n, SUM(amount) AS total, MIN(status) AS status, "
                       "MAX(paid_at) AS paid_at FROM payout_requests WHERE export_id IS NOT NULL "
                       "GROUP BY export_id ORDER BY export_id DESC")


def mark_paid(store: Store, export_id: str, *, by: str) -> list[dict]:
    """The bank executed the file: each card is refunded and closed in the books with what was paid."""
    rows = store.query("SELECT * FROM payout_requests WHERE export_id = ? AND status = 'exported'", [export_id])
    if not rows:
        raise PayoutError("no exported refunds under this id")
    done = []
    for p in rows:
        if p.get("account_id"):
            from sync.collector.backoffice.face_payouts import pay_face

            done.append(pay_face(store, p, by=f"{by} (SEPA {export_id})"))
            continue
        result = refund_cards(store, [p["card_id"]], by=f"{by} (SEPA {export_id})")
        store.execute("UPDATE payout_requests SET status = 'paid', paid_at = ? WHERE request_id = ?",
                      [now_iso(), p["request_id"]])
        done.append({"request_id": p["request_id"], "card_id": p["card_id"], "paid": int(p["amount"]),
                     "refunded_in_books": result[0]["refunded"] if result else 0})
    return done

