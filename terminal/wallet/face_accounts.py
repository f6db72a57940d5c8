"""Face-account money on the terminal: journal entries for face top-ups, sales and checkouts, and what may be spent.

A face account's balance lives in the collector's ledger (DESIGN.md). Nothing is
written to a card, so there is no intent: each movement is one ordinary commit
entry (op "topup" / "sale" / "close", card_id None, `data["face_account"]`), which
the collector folds into the account's ledger at ingest. A sale is authorized
online when the collector answers (`authorize`, a hold on the ledger, settled by
the entry); otherwise the terminal decides from the last signed snapshot plus its
own debits since, within its offline allowance (`plan_face_debit`). A refused
payment is journaled as a `decline` info entry, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from terminal.camera.allowance import BalanceSnapshot, DebitPlan, Verdict, plan_face_debit
from terminal.wallet.journal import Journal

Authorizer = Callable[[str, int], dict[str, Any]]


class CollectorUnreachable(Exception):
    """Raised by an authorizer when the collector cannot be asked: the terminal falls back to its allowance."""


class FaceDeclined(Exception):
    """The payment is refused; `reason` is for the guest's screen, `entry` the journaled decline."""

    def __init__(self, reason: str, entry: dict[str, Any] | None = None, plan: DebitPlan | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.entry = entry
        self.plan = plan


@dataclass(frozen=True)
class FaceSale:
    entry: dict[str, Any]
    online: bool
    authorization: str | None = None
    plan: DebitPlan | None = None


class FaceAccounts:
    """Face-account snapshots (from verified bundles) and face money entries in this terminal's journal."""

    def __init__(self, journal: Journal, *, allowance: int = 0) -> None:
        if allowance < 0:
            raise ValueError("offline allowance must be >= 0")
        self.journal = journal
        self.allowance = allowance
        self.db = journal.db

    # --- snapshots --------------------------------------------------------------------------------------------------

    def replace_snapshot(self, balances: dict[str, int], *, as_of_seq: int, issued_at: str) -> int:
        """Install the collector's balances (signature already verified). `as_of_seq`: the last entry of this
        terminal the collector had stored when it built them; own debits after it still count against them."""
        rows = []
        for account_id, balance in balances.items():
            if not isinstance(account_id, str) or not isinstance(balance, int) or isinstance(balance, bool):
                raise ValueError("snapshot balances are {account id: integer minor units}")
            rows.append((account_id, balance, int(as_of_seq), issued_at))
        conn = self.db.conn
        with self.journal._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM face_snapshot")
                conn.executemany("INSERT INTO face_snapshot VALUES (?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(rows)

    def snapshot(self, account_id: str) -> BalanceSnapshot | None:
        row = self.db.execute("SELECT balance, as_of_seq FROM face_snapshot WHERE account_id = ?",
                              [account_id]).fetchone()
        return BalanceSnapshot(account_id, int(row[0]), int(row[1])) if row else None

    def own_debits(self, account_id: str, after_seq: int) -> list[int]:
        """This terminal's face sales for the account journaled after the snapshot's position."""
        rows = self.db.execute(
            "SELECT amount FROM journal WHERE seq > ? AND op = 'sale' AND phase = 'commit' AND card_id IS NULL "
            "AND json_extract(data, '$.face_account') = ? ORDER BY seq", [after_seq, account_id]).fetchall()
        return [int(r[0]) for r in rows]

    def plan(self, account_id: str, amount: int, *, online: bool = False) -> DebitPlan:
        """What paying `amount` would do now (nothing is written)."""
        snap = self.snapshot(account_id)
        debits = self.own_debits(account_id, snap.sequence) if snap else []
        return plan_face_debit(snap, debits, amount, self.allowance, online)

    def spendable(self, account_id: str) -> int:
        """What this terminal may let the account spend offline right now (0 without a snapshot)."""
        snap = self.snapshot(account_id)
        if snap is None:
            return 0
        debits = self.own_debits(account_id, snap.sequence)
        return max(0, min(snap.balance - sum(debits), self.allowance - sum(debits)))

    # --- money ------------------------------------------------------------------------------------------------------

    def topup(self, account_id: str, amount: int, *, method: str, operator: str | None = None) -> dict[str, Any]:
        """A cashier loads money on a face account (the collector credits it only from cashier terminals)."""
        _check(account_id, amount)
        return self.journal.append("topup", "commit", amount=amount, operator=operator, method=method,
                                   data={"face_account": account_id})

    def sale(self, account_id: str, amount: int, *, score: float | None, second_factor: str | None,
             operator: str | None = None, items: list[dict[str, Any]] | None = None,
             authorize: Authorizer | None = None, request_id: str | None = None) -> FaceSale:
        """Pay `amount` from a face account: online authorization if `authorize` reaches the collector, else the
        offline rule. Raises FaceDeclined (journaled) when refused. `request_id` (chosen by the screen) makes a
        repeated request return the sale already journaled instead of charging again."""
        _check(account_id, amount)
        data: dict[str, Any] = {"face_account": account_id, "score": None if score is None else round(score, 4),
                                "second_factor": second_factor}
        if request_id:
            done = self.sale_for_request(request_id)
            if done is not None:
                auth = done["data"].get("authorization")
                return FaceSale(done, online=auth is not None, authorization=auth)
            data["request_id"] = request_id
        if authorize is not None:
            try:
                answer = authorize(account_id, amount)
            except CollectorUnreachable:
                answer = None
            if answer is not None:
                if not answer.get("approved"):
                    reason = str(answer.get("reason") or "refused by the collector")
                    raise FaceDeclined(reason, self._decline(account_id, amount, reason, operator, data))
                auth = str(answer["authorization"])
                entry = self.journal.append("sale", "commit", amount=amount, operator=operator, items=items,
                                            data={**data, "authorization": auth})
                return FaceSale(entry, online=True, authorization=auth)
        plan = self.plan(account_id, amount, online=False)
        if plan.verdict is not Verdict.APPROVE_OFFLINE:
            raise FaceDeclined(plan.verdict.value, self._decline(account_id, amount, plan.verdict.value, operator,
                                                                 data), plan)
        entry = self.journal.append("sale", "commit", amount=amount, operator=operator, items=items,
                                    data={**data, "offline": True})
        return FaceSale(entry, online=False, plan=plan)

    def sale_for_request(self, request_id: str) -> dict[str, Any] | None:
        """The committed face sale journaled for this request id, if any (the journal is the truth)."""
        row = self.db.execute("SELECT seq FROM journal WHERE op = 'sale' AND phase = 'commit' AND card_id IS NULL "
                              "AND json_extract(data, '$.request_id') = ? ORDER BY seq LIMIT 1",
                              [request_id]).fetchone()
        return self.journal.get(int(row[0])) if row else None

    def checkout(self, account_id: str, refund: int, *, operator: str | None = None) -> dict[str, Any]:
        """The cashier paid out what is left (the amount the collector's checkout returned): op close."""
        if not isinstance(refund, int) or isinstance(refund, bool) or refund < 0:
            raise ValueError("refund must be a non-negative integer in minor units")
        _check(account_id, max(refund, 1))
        return self.journal.append("close", "commit", amount=refund, operator=operator, method="cash",
                                   data={"face_account": account_id, "refund": refund})

    def _decline(self, account_id: str, amount: int, reason: str, operator: str | None,
                 data: dict[str, Any]) -> dict[str, Any]:
        return self.journal.append("decline", "info", amount=amount, operator=operator,
                                   data={**data, "reason": reason})


def _check(account_id: str, amount: int) -> None:
    if not isinstance(account_id, str) or not account_id:
        raise ValueError("face account id is empty")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError("amount must be a positive integer in minor units")
