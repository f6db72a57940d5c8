"""Face top-ups the collector refused to credit, decided by the organizer afterwards.

A top-up journaled by a terminal that may not credit (a sale terminal) is kept in the journal but not in the
account's balance: a `refused_credit` ledger row and an open `refused_face_credit` anomaly, so the books do not
balance until someone decides (`sync.collector.face`). The organizer looks at what happened (the terminal took
the guest's money, or it did not) and either

- **accepts** it: the guest paid, the account is credited (the row becomes a `topup`), or
- **reverses** it: the account is credited and at once refunded by the collector (a ledger `refund` with no
  terminal, as a checkout paid out by the organizer), the guest gets the cash back from the organizer.

Either way the anomaly is cleared, the audit log says who decided what, and the terminal's next bundle no
longer lists the credit as refused.
"""

from __future__ import annotations

import secrets
from typing import Any

from sync.collector.backoffice.audit import record
from sync.collector.event import now_iso
from sync.collector.face import REFUSED_CREDIT
from sync.collector.storage import Store


class CreditDecisionError(ValueError):
    """No such refused credit (or already decided)."""


def refused(store: Store) -> list[dict[str, Any]]:
    """Every face top-up still refused: terminal, sequence, account, amount, time."""
    return [{"terminal_id": int(r["terminal_id"]), "seq": int(r["seq"]), "account_id": r["account_id"],
             "amount": int(r["amount"]), "time": r["time"]} for r in store.query(
        "SELECT f.terminal_id, f.seq, f.account_id, e.amount, f.time FROM face_ledger f JOIN entries e "
        "ON e.terminal_id = f.terminal_id AND e.seq = f.seq WHERE f.kind = 'refused_credit' "
        "ORDER BY f.terminal_id, f.seq")]


def decide(store: Store, terminal_id: int, seq: int, action: str, *, by: str) -> dict[str, Any]:
    """`action` "accept" or "reverse" for the refused credit journaled as (terminal_id, seq)."""
    if action not in ("accept", "reverse"):
        raise CreditDecisionError("action is accept or reverse")
    with store.transaction():
        found = [r for r in refused(store) if r["terminal_id"] == terminal_id and r["seq"] == seq]
        if not found:
            raise CreditDecisionError(f"no refused face credit at terminal {terminal_id} seq {seq}")
        credit = found[0]
        account, amount = credit["account_id"], credit["amount"]
        store.execute("UPDATE face_ledger SET kind = 'topup', amount = ?, note = ? WHERE entry_key = ?",
                      [amount, f"refused credit {action}ed by {by}", f"t{terminal_id}:{seq}"])
        if action == "reverse":
            store.execute("INSERT INTO face_ledger (entry_key, account_id, kind, amount, time, note) "
                          "VALUES (?, ?, 'refund', ?, ?, ?)",
                          [f"reverse:t{terminal_id}:{seq}:{secrets.token_hex(4)}", account, -amount, now_iso(),
                           f"refused credit reversed by {by}: the organizer returns the cash"])
        store.execute("DELETE FROM anomalies WHERE kind = ? AND terminal_id = ? AND seq = ?",
                      [REFUSED_CREDIT, terminal_id, seq])
        record(store, by, f"face_credit_{action}", f"t{terminal_id}:{seq}", account_id=account, amount=amount)
    return {**credit, "decision": action}
