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

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from terminal.money import is_minor_units
from terminal.refusal import Refusal
from terminal.wallet.declines import record_decline
from terminal.wallet.event_window import gate
from terminal.wallet.face_allowance import BalanceSnapshot, DebitPlan, Verdict, allowance_left, plan_face_debit
from terminal.wallet.journal import Journal
from terminal.wallet.rules import Declined

Authorizer = Callable[[str, int], dict[str, Any]]
FROZEN = "face account is frozen"  # the collector's words too (sync.collector.face.authorize)
# a refusal's stable code, from the offline verdict or the collector's words
OUTSIDE_EVENT = "outside the event's dates"  # terminal.wallet.event_window: no face money outside them
DECLINE_CODES = {"insufficient funds": "insufficient_funds", "offline allowance used up": "over_allowance",
                 "no balance known for this account": "no_face_balance", OUTSIDE_EVENT: "outside_event",
                 FROZEN: "face_frozen"}


class CollectorUnreachable(Exception):
    """Raised by an authorizer when the collector cannot be asked: the terminal falls back to its allowance."""


class FaceDeclined(Refusal):
    """The payment is refused; `reason` is for the guest's screen, `entry` the journaled decline."""

    def __init__(self, reason: str, entry: dict[str, Any] | None = None, plan: DebitPlan | None = None) -> None:
        super().__init__("face_declined", reason)
        self.reason = reason
        self.entry = entry
        self.plan = plan


@dataclass(frozen=True)
class FaceSale:
    entry: dict[str, Any]
    online: bool
    authorization: str | None = None
    plan: DebitPlan | None = None
    balance_after: int | None = None  # what the account has left, as this terminal knows it after the sale


class FaceAccounts:
    """Face-account snapshots (from verified bundles) and face money entries in this terminal's journal."""

    def __init__(self, journal: Journal, *, allowance: int = 0, clock: Callable[[], float] = time.time) -> None:
        if allowance < 0:
            raise ValueError("offline allowance must be >= 0")
        self.journal = journal
        self.allowance = allowance
        self.db = journal.db
        self._dates = gate(journal, clock)  # the event's dates from the last bundle, read at every movement

    # --- snapshots --------------------------------------------------------------------------------------------------

    def replace_snapshot(self, balances: dict[str, int], *, as_of_seq: int, issued_at: str,
                         frozen: list[str] | tuple[str, ...] = ()) -> int:
        """Install the collector's balances (signature already verified). `as_of_seq`: the last entry of this
        terminal the collector had stored when it built them; own debits after it still count against them.
        `frozen`: accounts the collector froze (not among the balances): kept with status 'frozen', declined."""
        rows = []
        for account_id, balance in balances.items():
            if not isinstance(account_id, str) or not isinstance(balance, int) or isinstance(balance, bool):
                raise ValueError("snapshot balances are {account id: integer minor units}")
            rows.append((account_id, balance, int(as_of_seq), issued_at, "active"))
        rows += [(a, 0, int(as_of_seq), issued_at, "frozen") for a in dict.fromkeys(frozen)
                 if isinstance(a, str) and a not in balances]
        conn = self.db.conn
        with self.journal._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM face_snapshot")
                conn.executemany("INSERT INTO face_snapshot (account_id, balance, as_of_seq, issued_at, status) "
                                 "VALUES (?, ?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(rows)

    def is_frozen(self, account_id: str) -> bool:
        """Whether the last bundle listed the account as frozen at the collector."""
        return self.db.execute("SELECT 1 FROM face_snapshot WHERE account_id = ? AND status = 'frozen'",
                               [account_id]).fetchone() is not None

    def _refuse_frozen(self, account_id: str, amount: int, operator: str | None, data: dict[str, Any]) -> None:
        """A frozen account neither pays nor is loaded here: declined (journaled) with the code `face_frozen`."""
        if self.is_frozen(account_id):
            raise FaceDeclined(FROZEN, self._decline(amount, FROZEN, operator, data))

    def snapshot(self, account_id: str) -> BalanceSnapshot | None:
        row = self.db.execute("SELECT balance, as_of_seq FROM face_snapshot WHERE account_id = ?",
                              [account_id]).fetchone()
        return BalanceSnapshot(account_id, int(row[0]), int(row[1])) if row else None

    def own_debits(self, account_id: str, after_seq: int) -> list[int]:
        """This terminal's face debits for the account (sales, checkouts) journaled after the snapshot's position."""
        return self.own_movements(account_id, after_seq)[1]

    def own_movements(self, account_id: str, after_seq: int) -> tuple[list[int], list[int]]:
        """(credits, debits) this terminal journaled for the account after `after_seq`: what the collector had not
        yet counted when it signed the snapshot. A top-up made here counts at once, so a guest can pay at the
        cashier right after loading money, with no collector reachable."""
        rows = self.db.execute(
            "SELECT op, amount FROM journal WHERE seq > ? AND op IN ('topup', 'sale', 'close') AND phase = 'commit' "
            "AND card_id IS NULL AND json_extract(data, '$.face_account') = ? ORDER BY seq",
            [after_seq, account_id]).fetchall()
        credits = [int(r[1]) for r in rows if r[0] == "topup"]
        debits = [int(r[1]) for r in rows if r[0] != "topup"]
        return credits, debits

    def _position(self, account_id: str) -> tuple[BalanceSnapshot | None, list[int], list[int]]:
        """The account's snapshot (if any) and this terminal's own movements since it. An account missing from the
        snapshot counts only this terminal's movements since the last snapshot was taken."""
        snap = self.snapshot(account_id)
        after = snap.sequence if snap is not None else int(
            self.db.execute("SELECT COALESCE(MAX(as_of_seq), 0) FROM face_snapshot").fetchone()[0])
        credits, debits = self.own_movements(account_id, after)
        return snap, credits, debits

    def plan(self, account_id: str, amount: int, *, online: bool = False) -> DebitPlan:
        """What paying `amount` would do now (nothing is written)."""
        snap, credits, debits = self._position(account_id)
        return plan_face_debit(snap, debits, amount, self.allowance, online, credits)

    def balance(self, account_id: str) -> int | None:
        """The balance this terminal knows: snapshot plus its own movements since (None: nothing known here)."""
        snap, credits, debits = self._position(account_id)
        if snap is None and not credits and not debits:
            return None
        return _known(snap, credits, debits)

    def spendable(self, account_id: str) -> int:
        """What this terminal may let the account spend offline right now (0 when nothing is known here)."""
        snap, credits, debits = self._position(account_id)
        if snap is None and not credits:
            return 0
        return max(0, min(_known(snap, credits, debits), allowance_left(self.allowance, debits, credits)))

    def movements(self, account_id: str, limit: int = 8) -> list[dict[str, Any]]:
        """The account's last committed money entries in this journal (top-ups, sales, checkouts), newest first."""
        rows = self.db.execute(
            "SELECT seq FROM journal WHERE phase = 'commit' AND card_id IS NULL "
            "AND json_extract(data, '$.face_account') = ? ORDER BY seq DESC LIMIT ?", [account_id, limit]).fetchall()
        return [e for e in (self.journal.get(int(r[0])) for r in rows) if e is not None]

    def local_credit_left(self, account_id: str) -> int:
        """Money credited here since the snapshot and not yet spent here: no other terminal can spend it."""
        _snap, credits, debits = self._position(account_id)
        return max(0, sum(credits) - sum(debits))

    # --- money ------------------------------------------------------------------------------------------------------

    def topup(self, account_id: str, amount: int, *, method: str, operator: str | None = None,
              request_id: str | None = None) -> dict[str, Any]:
        """A cashier loads money on a face account (the collector credits it only from cashier terminals).
        `request_id` (chosen by the screen): a repeated request returns the top-up already journaled."""
        _check(account_id, amount)
        if request_id:
            done = self.entry_for_request("topup", request_id)
            if done is not None:
                return done
        data = {"face_account": account_id, **({"request_id": request_id} if request_id else {})}
        self._within_dates("topup", amount, operator, data)
        self._refuse_frozen(account_id, amount, operator, data)
        before = self.balance(account_id)
        return self.journal.append("topup", "commit", amount=amount, operator=operator, method=method,
                                   balance_before=before, balance_after=(before or 0) + amount, data=data)

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
                return self._sold(account_id, FaceSale(done, online=auth is not None, authorization=auth))
            data["request_id"] = request_id
        self._within_dates("sale", amount, operator, data)
        self._refuse_frozen(account_id, amount, operator, data)
        if authorize is not None and amount > self.local_credit_left(account_id):
            try:
                answer = authorize(account_id, amount)
            except CollectorUnreachable:
                answer = None
            if answer is not None:
                if not answer.get("approved"):
                    reason = str(answer.get("reason") or "refused by the collector")
                    raise FaceDeclined(reason, self._decline(amount, reason, operator, data))
                auth = str(answer["authorization"])
                after = answer.get("available_after")
                entry = self.journal.append("sale", "commit", amount=amount, operator=operator, items=items,
                                            balance_after=after if isinstance(after, int) else None,
                                            data={**data, "authorization": auth})
                return self._sold(account_id, FaceSale(entry, online=True, authorization=auth))
        plan = self.plan(account_id, amount, online=False)
        if plan.verdict is not Verdict.APPROVE_OFFLINE:
            raise FaceDeclined(plan.verdict.value, self._decline(amount, plan.verdict.value, operator, data), plan)
        entry = self.journal.append("sale", "commit", amount=amount, operator=operator, items=items,
                                    balance_before=plan.available, balance_after=plan.available - amount,
                                    data={**data, "offline": True})
        return self._sold(account_id, FaceSale(entry, online=False, plan=plan))

    def has_paid(self, account_id: str) -> bool:
        """Whether this account has paid by face at this terminal before (its face is bound here)."""
        return self.db.execute("SELECT 1 FROM journal WHERE op = 'sale' AND phase = 'commit' AND card_id IS NULL "
                               "AND json_extract(data, '$.face_account') = ? LIMIT 1", [account_id]).fetchone() \
            is not None

    def sale_for_request(self, request_id: str) -> dict[str, Any] | None:
        """The committed face sale journaled for this request id, if any (the journal is the truth)."""
        return self.entry_for_request("sale", request_id)

    def entry_for_request(self, op: str, request_id: str) -> dict[str, Any] | None:
        """The committed face movement `op` journaled for this request id, if any."""
        entry = self.journal.request_entry(op, request_id)
        return entry if entry is not None and entry["card_id"] is None else None

    def checkout(self, account_id: str, refund: int, *, operator: str | None = None,
                 left_for_collector: int = 0) -> dict[str, Any]:
        """The cashier paid out `refund` (the collector's checkout amount; offline, only what is certain) and
        `left_for_collector` of this terminal's view stays for the organizer to pay after sync: op close."""
        if not is_minor_units(refund) or not is_minor_units(left_for_collector):
            raise ValueError("refund must be a non-negative integer in minor units")
        _check(account_id, max(refund, 1))
        data: dict[str, Any] = {"face_account": account_id, "refund": refund}
        if left_for_collector:
            data["left_for_collector"] = left_for_collector
        return self.journal.append("close", "commit", amount=refund, operator=operator, method="cash",
                                   balance_before=refund + left_for_collector, balance_after=left_for_collector,
                                   data=data)

    def certain_refund(self, account_id: str) -> int:
        """What an offline checkout can pay out for sure: money credited here since the snapshot and not spent
        here. The snapshot's part may have been spent elsewhere meanwhile (online at the collector while this
        terminal cannot reach it, or offline within other terminals' allowances), so it is left to the collector,
        which knows every terminal's sales, to pay out after sync."""
        return min(max(0, self.balance(account_id) or 0), self.local_credit_left(account_id))

    def _sold(self, account_id: str, sale: FaceSale) -> FaceSale:
        """The balance left: as journaled with the sale (the collector's answer or the offline plan), else known."""
        after = sale.entry.get("balance_after")
        return replace(sale, balance_after=after if isinstance(after, int) else self.balance(account_id))

    def _within_dates(self, operation: str, amount: int, operator: str | None, data: dict[str, Any]) -> None:
        """FaceDeclined (journaled, code `outside_event`) outside the event's dates; checkouts are never refused."""
        try:
            self._dates(operation)
        except Declined as exc:
            entry = record_decline(self.journal, exc.code, exc.message, amount=amount, operator=operator, **data)
            raise FaceDeclined(OUTSIDE_EVENT, entry) from None

    def _decline(self, amount: int, reason: str, operator: str | None, data: dict[str, Any]) -> dict[str, Any]:
        return record_decline(self.journal, DECLINE_CODES.get(reason, "collector_refused"), reason, amount=amount,
                              operator=operator, **data)


def _known(snap: BalanceSnapshot | None, credits: list[int], debits: list[int]) -> int:
    """The one balance formula: the collector's signed snapshot plus this terminal's own movements since."""
    return (snap.balance if snap is not None else 0) + sum(credits) - sum(debits)


def _check(account_id: str, amount: int) -> None:
    if not isinstance(account_id, str) or not account_id:
        raise ValueError("face account id is empty")
    if not is_minor_units(amount, minimum=1):
        raise ValueError("amount must be a positive integer in minor units")
