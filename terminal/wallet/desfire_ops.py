"""Wallet operations on a secure card (DESFire): the same rules, journal and outcomes as on NTAG.

check -> plan -> intent -> card -> commit, as in `operations`: the rules
decide on the card's newest history record, the planned record and amounts
are journaled as an intent, then the card gets its value change and history
record in one card transaction closed by CommitTransaction. A card taken
away before the commit keeps nothing of it (the card drops an uncommitted
transaction); one taken away during the commit holds all of it. The next
tap settles the intent by looking at the card's newest records.

The history record (32 bytes): card id (4, big-endian), the purse `Record`
(24 bytes: seq, balance, spent, comp, time, terminal, op, flags), 4 zero
bytes. The value file is the money; the record says how it got there and
keeps complimentary credit apart (spent first, never refunded).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from terminal.wallet import rules
from terminal.wallet.card import CardAuthError, CardError, CardRemoved
from terminal.wallet.desfire_keys import card_key, event_aid, identity_bytes, seal_master_key
from terminal.wallet.purse import Op, PurseFormatError, Record
from terminal.wallet.rules import Declined
from terminal.wallet.value_card import RECORD_BYTES, AlreadyPersonalised, Personalisation, PurseMissing, ValueCard

if TYPE_CHECKING:
    from terminal.wallet.operations import CardState, Outcome, Wallet

log = logging.getLogger(__name__)
HISTORY_ON_READ = 4
HISTORY_WHEN_PENDING = 4


def encode_record(card_id: int, record: Record) -> bytes:
    return card_id.to_bytes(4, "big") + record.pack() + bytes(4)


def decode_record(raw: bytes) -> tuple[int, Record]:
    if len(raw) != RECORD_BYTES:
        raise PurseFormatError(f"history record of {len(raw)} bytes")
    return int.from_bytes(raw[:4], "big"), Record.unpack(raw[4:28])


@dataclass
class _SecureTap:
    card: ValueCard
    uid: bytes
    value: int | None
    raw: list[bytes]  # newest first
    records: list[Record]
    card_id: int
    resolved: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> Record:
        return self.records[0]


class SecureCardOps:
    """The wallet's operations for secure cards; `Wallet` hands a tapped `ValueCard` to it."""

    def __init__(self, wallet: Wallet, keys: dict[str, bytes]) -> None:
        self.w = wallet
        self.keys = keys
        self.aid = event_aid(wallet.event_id)

    # --- keys -------------------------------------------------------------------
    def _require(self, role: str) -> bytes:
        master = self.keys.get(role)
        if master is None:
            raise Declined("no_key", f"this terminal holds no DESFire {role} key: do this at a "
                           f"{'cashier' if role == 'credit' else 'sale'} terminal")
        return master

    def _key(self, role: str, uid: bytes) -> bytes:
        return card_key(self._require(role), uid, self.w.event_id)

    def _card_keys(self, uid: bytes) -> dict[str, bytes]:
        return {role: self._key(role, uid) for role in ("credit", "debit", "read")}

    # --- reading and settling ---------------------------------------------------
    def _tap(self, card: ValueCard, *, operator: str | None, history: int = 1, role: str | None = None) -> _SecureTap:
        role = role or ("debit" if "debit" in self.keys else "read")
        try:
            uid = card.key_uid(self.aid)
            pending = [i for i in self.w.journal.pending() if i["uid"] == uid.hex()]
            card.open(self.aid, role, self._key(role, uid))
            state = card.read_purse(max(history, HISTORY_WHEN_PENDING if pending else 1))
        except PurseMissing:
            unfinished = card.unfinished_uid(self.aid)
            if unfinished is not None:
                self._settle_blank(unfinished, operator)
            raise Declined("blank", "blank card, or a card of another event: issue it at a cashier") from None
        except CardAuthError as exc:
            self._settle_blank(card.unfinished_uid(self.aid) or uid, operator)
            raise Declined("blank", "this card's issue was interrupted or it is not of this event: "
                           "issue it again at a cashier") from exc
        try:
            decoded = [decode_record(raw) for raw in state.records]
        except PurseFormatError as exc:
            refusal = Declined("tampered", f"card history does not decode: {exc}")
            raise self._decline(uid, None, operator, refusal) from None
        if not decoded:
            self._settle_blank(uid, operator)
            raise Declined("blank", "card issue was interrupted: issue it again at a cashier")
        card_id = decoded[0][0]
        tap = _SecureTap(card, uid, state.value, list(state.records), [r for _, r in decoded], card_id)
        self._settle(tap, operator)
        reason = self.w.hotlist.reason(card_id)
        if reason is not None:
            raise self._decline(uid, tap, operator, Declined("blocked", f"card blocked ({reason})"))
        if tap.value is not None and tap.value != tap.current.balance:
            raise self._decline(uid, tap, operator, Declined(
                "tampered", "the card's value and its history disagree: refused, report to the organizer"))
        return tap

    def _settle_blank(self, uid: bytes, operator: str | None) -> None:
        for intent in self.w.journal.pending():
            if intent["uid"] == uid.hex():
                self.w._abort(intent, operator, "card holds no purse")

    def _settle(self, tap: _SecureTap, operator: str | None) -> None:
        """The card's commit is atomic: the planned record is on it (commit) or it is not (abort)."""
        visible = {raw.hex() for raw in tap.raw}
        seqs = {r.seq for r in tap.records}
        for intent in self.w.journal.pending():
            if intent["uid"] != tap.uid.hex():
                continue
            if intent["data"]["record"] in visible:
                entry = self.w.journal.append(
                    intent["op"], "commit", ref=intent["seq"], operator=intent["operator"], amount=intent["amount"],
                    card_id=intent["card_id"], uid=tap.uid, card_seq=intent["card_seq"],
                    balance_before=intent["balance_before"], balance_after=intent["balance_after"],
                    method=intent["method"], items=intent["items"], data={**intent["data"], "settled_at_tap": True})
                tap.resolved.append(entry)
            elif tap.current.seq < intent["card_seq"] or intent["card_seq"] in seqs:
                tap.resolved.append(self.w._abort(intent, operator, "the card holds the state before"))
            else:  # the card moved on elsewhere and the record is out of sight: the collector decides
                tap.resolved.append(self.w._abort(intent, operator, "indeterminate", indeterminate=True))

    def _decline(self, uid: bytes, tap: _SecureTap | None, operator: str | None, exc: Declined) -> Declined:
        return self.w._journal_decline(exc, operator=operator, card_id=tap.card_id if tap else None, uid=uid,
                                       balance=tap.current.balance if tap is not None else None,
                                       extra={"card": "desfire"})

    def _check(self, tap: _SecureTap, operator: str | None, check: Any) -> None:
        try:
            check()
        except Declined as exc:
            raise self._decline(tap.uid, tap, operator, exc) from None

    # --- operations -------------------------------------------------------------
    def read(self, card: ValueCard, *, operator: str | None = None) -> CardState:
        return self._state(self._tap(card, operator=operator, history=HISTORY_ON_READ))

    def activate(self, card: ValueCard, op: str, record: Record, *, method: str | None, operator: str | None,
                 data: dict[str, Any]) -> Outcome:
        """Issue or replacement on a blank card: personalise it, then credit it and write its first record."""
        self._require("credit")  # refuse before touching the card at a terminal without it
        if "escrow_public" not in self.keys:
            raise Declined("no_key", "this terminal's key file has no escrow key: cannot personalise cards")
        product = card.product_name()
        seal: tuple[str, int] | None = None
        try:
            uid = card.begin_personalisation(self.aid)
            fresh = True
            self._settle_blank(uid, operator)
        except AlreadyPersonalised:
            fresh = False
            uid = card.key_uid(self.aid)
            card.open(self.aid, "debit", self._key("debit", uid))
            state = card.read_purse(HISTORY_WHEN_PENDING)
            if state.records:
                card_id, _ = decode_record(state.records[0])
                raise Declined("already_issued", f"card already issued (card {card_id}); use top-up") from None
            seal = self._previous_seal(uid)
            self._settle_blank(uid, operator)
        card_id = self.w._allocate_card_id(uid)
        amk = secrets.token_bytes(16)
        if fresh:
            seal = (seal_master_key(self.keys["escrow_public"], amk, card_id), card_id)
        data = {"record": encode_record(card_id, record).hex(), "card": "desfire", "product": product,
                "amk_sealed": seal[0] if seal else None, "amk_card_id": seal[1] if seal else None, **data}
        intent = self.w.journal.append(op, "intent", amount=record.balance, operator=operator, card_id=card_id,
                                       uid=uid, card_seq=record.seq, balance_before=0, balance_after=record.balance,
                                       method=method, data=data)

        def write() -> None:
            if fresh:
                plan = Personalisation(self.aid, self.w.limits.max_balance, identity_bytes(self.w.event_id, product),
                                       self._card_keys)
                card.finish_personalisation(plan, uid, amk)
            card.open(self.aid, "credit", self._key("credit", uid))
            if record.balance:
                card.credit(record.balance)
            card.append_history(bytes.fromhex(data["record"]))
            card.commit()

        self._write(intent, operator, write)
        tap = _SecureTap(card, uid, record.balance, [bytes.fromhex(data["record"])], [record], card_id)
        return self._commit(tap, intent)

    def _previous_seal(self, uid: bytes) -> tuple[str, int] | None:
        """The escrowed AMK of a personalisation whose issue was torn: the new intent carries it on."""
        rows = self.w.db.query("SELECT seq FROM journal WHERE uid = ? AND op IN ('issue', 'replace') "
                               "AND phase = 'intent' ORDER BY seq DESC", [uid.hex()])
        for row in rows:
            entry = self.w.journal.get(row["seq"])
            data = (entry or {}).get("data") or {}
            if data.get("amk_sealed"):
                return str(data["amk_sealed"]), int(data["amk_card_id"])
        return None

    def topup(self, card: ValueCard, amount: int, *, method: str, operator: str | None) -> Outcome:
        self._require("credit")
        tap = self._tap(card, operator=operator)
        current = tap.current
        self._check(tap, operator, lambda: rules.check_topup(current, amount, method, self.w.limits, self.w.currency))
        credit_key = self._key("credit", tap.uid)
        planned = rules.plan_topup(current, amount, method, now=self.w._now(), terminal_id=self.w.terminal_id)

        def write() -> None:
            card.open(self.aid, "credit", credit_key)
            card.credit(amount)

        return self._apply(tap, "topup", planned, amount=amount, operator=operator, method=method, before=write)

    def charge(self, card: ValueCard, amount: int, *, items: list[dict[str, Any]], operator: str | None,
               sale_id: str | None) -> Outcome:
        tap = self._tap(card, operator=operator)
        current = tap.current
        self._check(tap, operator, lambda: rules.check_sale(current, amount, self.w.limits, self.w.currency))
        planned = rules.plan_sale(current, amount, now=self.w._now(), terminal_id=self.w.terminal_id)
        return self._apply(tap, "sale", planned, amount=amount, operator=operator, items=items,
                           data={"sale_id": sale_id} if sale_id else {}, before=lambda: card.debit(amount))

    def void(self, card: ValueCard, *, operator: str | None) -> Outcome:
        tap = self._tap(card, operator=operator, history=2)
        current = tap.current
        sale = self.w._sale_entry(tap.card_id, current.seq) if current.op is Op.SALE else None
        previous = tap.records[1] if len(tap.records) > 1 and tap.records[1].seq == current.seq - 1 else None
        self._check(tap, operator, lambda: rules.check_void(
            current, previous, terminal_id=self.w.terminal_id, sale_time=current.time,
            sale_amount=sale["amount"] if sale else None, now=self.w._now(), limits=self.w.limits))
        assert sale is not None and previous is not None
        planned = rules.plan_void(current, previous, sale["amount"], now=self.w._now(), terminal_id=self.w.terminal_id)
        return self._apply(tap, "void", planned, amount=sale["amount"], operator=operator, items=sale["items"],
                           data={"voids": sale["seq"]}, before=lambda: card.refund_last_debit(sale["amount"]))

    def close(self, card: ValueCard, *, operator: str | None, method: str) -> Outcome:
        tap = self._tap(card, operator=operator)
        current = tap.current
        self._check(tap, operator, lambda: rules.check_usable(current))
        planned = rules.plan_close(current, now=self.w._now(), terminal_id=self.w.terminal_id)
        split = {"refund": current.refundable, "forfeited_comp": current.balance - current.refundable}

        def write() -> None:
            if current.balance:
                card.debit(current.balance)

        outcome = self._apply(tap, "close", planned, amount=current.balance, operator=operator, method=method,
                              data=split, before=write)
        return replace(outcome, extra=split)

    # --- writing ----------------------------------------------------------------
    def _apply(self, tap: _SecureTap, op: str, planned: Record, *, amount: int, operator: str | None,
               before: Any, method: str | None = None, items: list[dict[str, Any]] | None = None,
               data: dict[str, Any] | None = None) -> Outcome:
        raw = encode_record(tap.card_id, planned)
        intent = self.w.journal.append(op, "intent", amount=amount, operator=operator, card_id=tap.card_id,
                                       uid=tap.uid, card_seq=planned.seq, balance_before=tap.current.balance,
                                       balance_after=planned.balance, method=method, items=items,
                                       data={"record": raw.hex(), "card": "desfire", **(data or {})})

        def write() -> None:
            before()
            tap.card.append_history(raw)
            tap.card.commit()

        self._write(intent, operator, write)
        tap.raw.insert(0, raw)
        tap.records.insert(0, planned)
        tap.value = planned.balance
        return self._commit(tap, intent)

    def _write(self, intent: dict[str, Any], operator: str | None, write: Any) -> None:
        """Run the card transaction. The card refusing a command leaves nothing committed: abort now.
        The card leaving (or an answer that does not verify) may have committed: the next tap decides."""
        from terminal.wallet.operations import TapAgain

        try:
            write()
        except CardRemoved as exc:
            raise TapAgain(intent, exc) from exc
        except CardError as exc:
            code = getattr(exc, "code", None)
            if code is None or code == 0x1E:
                raise TapAgain(intent, exc) from exc
            self.w._abort(intent, operator, f"card refused: {exc}")
            if isinstance(exc, CardAuthError):
                raise Declined("card_refused", f"the card refused this terminal's key: {exc}") from exc
            raise Declined("card_refused", f"the card refused the operation: {exc}") from exc

    def _commit(self, tap: _SecureTap, intent: dict[str, Any]) -> Outcome:
        from terminal.wallet.operations import Outcome

        entry = self.w.journal.append(intent["op"], "commit", ref=intent["seq"], operator=intent["operator"],
                                      amount=intent["amount"], card_id=tap.card_id, uid=tap.uid,
                                      card_seq=intent["card_seq"], balance_before=intent["balance_before"],
                                      balance_after=intent["balance_after"], method=intent["method"],
                                      items=intent["items"], data=intent["data"])
        return Outcome(intent["op"], intent["amount"], intent["balance_before"], intent["balance_after"],
                       self._state(tap), entry)

    def _state(self, tap: _SecureTap) -> CardState:
        from terminal.wallet.operations import CardState, history_items

        return CardState(uid=tap.uid, card_id=tap.card_id, product=tap.card.product, record=tap.current,
                         history=history_items(tap.records), resolved=tuple(tap.resolved))
