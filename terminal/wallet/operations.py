"""Wallet operations on a tapped wristband: read, issue, top-up, sale, void, close.

Every operation follows check -> plan -> intent -> write -> commit:
the rules decide on plain values, the new sealed record is planned purely,
an intent (carrying the exact bytes to be written) is committed to the
journal before the card is touched, and the commit entry follows the last
successful write. If the card leaves the field in between, the intent stays
pending and the next tap of that card here resolves it by looking at what
the card actually holds: the planned bytes (commit) or the state before
(abort). So a tap is paid exactly once or not at all, and the journal always
ends up agreeing with the card.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlite_utils

from terminal.money import is_minor_units
from terminal.wallet import roles, rules
from terminal.wallet.band_source import KeyFileBand
from terminal.wallet.card import CardError, PurseTag
from terminal.wallet.card_tier import Change
from terminal.wallet.ceilings import credited_today
from terminal.wallet.declines import record_decline
from terminal.wallet.epochs import BandKeys
from terminal.wallet.hotlist import Hotlist
from terminal.wallet.journal import Journal
from terminal.wallet.keys import event_tag
from terminal.wallet.lastseen import LastSeen
from terminal.wallet.purse import Op, Record
from terminal.wallet.roles import Policy
from terminal.wallet.rules import Declined, Limits
from terminal.wallet.value_card import is_value_card

if TYPE_CHECKING:
    from terminal.wallet.card_tier import CardTier

log = logging.getLogger(__name__)

OP_NAMES = {Op.ISSUE: "issue", Op.TOPUP: "topup", Op.SALE: "sale", Op.VOID: "void", Op.CLOSE: "close",
            Op.REPLACE: "replace", Op.CORRECT: "correct"}


class TapAgain(CardError):
    """The card left before the write was confirmed; the same card must be tapped again to settle it."""

    def __init__(self, intent: dict[str, Any], cause: Exception) -> None:
        super().__init__(f"card removed before the {intent['op']} was confirmed: tap the same card again ({cause})")
        self.intent = intent


@dataclass(frozen=True)
class HistoryItem:
    seq: int
    op: str
    amount: int | None  # None for the oldest visible record, whose predecessor is gone
    balance: int
    terminal_id: int
    time: int

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "op": self.op, "amount": self.amount, "balance": self.balance,
                "terminal_id": self.terminal_id, "time": self.time}


@dataclass(frozen=True)
class CardState:
    uid: bytes
    card_id: int
    product: str
    record: Record
    history: tuple[HistoryItem, ...]
    resolved: tuple[dict[str, Any], ...] = ()  # journal entries that settled pending intents at this tap

    @property
    def balance(self) -> int:
        return self.record.balance

    @property
    def status(self) -> str:
        return "closed" if self.record.closed else "active"

    def as_dict(self) -> dict[str, Any]:
        return {"card_id": self.card_id, "uid": self.uid.hex(), "product": self.product,
                "balance": self.balance, "sequence": self.record.seq, "status": self.status,
                "spent": self.record.spent, "complimentary": self.record.comp,
                "refundable": self.record.refundable, "history": [h.as_dict() for h in self.history]}


@dataclass(frozen=True)
class Outcome:
    op: str
    amount: int
    balance_before: int
    balance_after: int
    state: CardState
    entry: dict[str, Any]  # the journal's commit entry
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = self.state.as_dict()
        out.update({"op": self.op, "amount": self.amount, "balance_before": self.balance_before,
                    "balance_after": self.balance_after, "journal_seq": self.entry["seq"], **self.extra})
        return out


class Wallet:
    def __init__(self, *, journal: Journal, master_key: bytes, event_id: str, terminal_id: int,
                 limits: Limits | None = None, hotlist: Hotlist | None = None, lastseen: LastSeen | None = None,
                 clock: Callable[[], float] = time.time, desfire_keys: dict[str, bytes] | None = None,
                 policy: Policy | None = None, band_keys: BandKeys | None = None,
                 desfire_epochs: dict[int, dict[str, bytes]] | None = None,
                 release_amk: Callable[[int], bytes | None] | None = None) -> None:
        self.journal = journal
        self.desfire_keys = desfire_keys or {}
        # DESFire role keys by epoch (`EventKeys.desfire_epochs`), and how a cashier gets a band's AMK to move it
        self.desfire_epochs = desfire_epochs or {0: {r: k for r, k in self.desfire_keys.items()
                                                     if r in ("credit", "debit", "read")}}
        self.release_amk = release_amk
        self.policy = policy or Policy()
        self._master_key = master_key
        self.event_id = event_id
        self.terminal_id = terminal_id
        self.currency = journal.currency
        self._limits = limits or Limits()
        self.follow_collector = False  # Wallet.open: the collector's limits (last bundle) bound the configured ones
        self._band = band_keys or BandKeys.single(master_key, event_id)
        self._band_file: KeyFileBand | None = None  # Wallet.open: the key file, followed for new key epochs
        self.hotlist = hotlist or Hotlist(journal.db)
        self.lastseen = lastseen or LastSeen(journal.db)
        self._clock = clock
        self._event_tag = event_tag(event_id)

    @classmethod
    def open(cls, config: Any, keys: Any, *, clock: Callable[[], float] = time.time,
             role_of: Callable[[str], str | None] | None = None) -> Wallet:
        """A wallet on the terminal's own database, from a loaded Config and EventKeys; `role_of` names an
        operator's role (the terminal's operators), the enrolled mode comes from the configuration."""
        from terminal.wallet.event_window import gate
        from terminal.wallet.journal import open_journal

        journal = open_journal(config.journal_path, terminal_id=config.terminal.id, event_id=config.event.id,
                               currency=config.event.currency)
        limits = Limits(max_balance=config.limits.max_balance, max_sale=config.limits.max_sale,
                        void_window_s=config.limits.void_window_s, ntag_max_balance=config.limits.ntag_max_balance,
                        credit_per_day=config.limits.credit_per_day)
        band = BandKeys.of(keys)
        wallet = cls(journal=journal, master_key=keys.master_key, event_id=config.event.id,
                     terminal_id=config.terminal.id, limits=limits, clock=clock, desfire_keys=keys.desfire,
                     policy=Policy(config.terminal.mode, role_of, dates=gate(journal, clock)), band_keys=band,
                     desfire_epochs=keys.desfire_epochs())
        wallet.follow_collector = True
        wallet._band_file = KeyFileBand(config.keys_path, config.event.id, band)
        return wallet

    @property
    def band(self) -> BandKeys:
        """The NTAG band keys by epoch; a wallet opened from a key file picks up a new epoch written into it by a
        background sync at the next tap, without a restart (`band_source`)."""
        return self._band_file.current() if self._band_file is not None else self._band

    @property
    def limits(self) -> Limits:
        """The configured limits, lowered to the collector's (last bundle) for a wallet opened from the config."""
        if not self.follow_collector:
            return self._limits
        from terminal.wallet.collector_limits import bounded, collector_limits

        return bounded(self._limits, collector_limits(self.journal.db))

    @limits.setter
    def limits(self, value: Limits) -> None:
        self._limits = value

    @property
    def db(self) -> sqlite_utils.Database:
        return self.journal.db

    def _now(self) -> int:
        return int(self._clock())

    def _tier(self, tag: object) -> CardTier:
        """The operations for the tapped card's tier: a secure card (DESFire) or an NTAG/Ultralight band."""
        if is_value_card(tag):
            from terminal.wallet.desfire_ops import SecureCardOps

            if self._band_file is not None:  # a new key epoch written by a background sync, without a restart
                self.desfire_epochs = self._band_file.desfire() or self.desfire_epochs
            return SecureCardOps(self, self.desfire_keys)
        from terminal.wallet.ntag_ops import NtagOps

        return NtagOps(self)

    # --- public operations ----------------------------------------------------

    def read(self, tag: PurseTag, *, operator: str | None = None) -> CardState:
        """Balance, status and on-card history; settles any pending intent of this card. Never writes money."""
        self.permit(roles.READ, operator)
        tier = self._tier(tag)
        return tier.state(tier.open(tag, operator=operator, purpose="read"))

    def issue(self, tag: PurseTag, amount: int, *, method: str = "cash", holder: str | None = None,
              operator: str | None = None) -> Outcome:
        """Activate a blank wristband with an opening balance (zero allowed)."""
        if not is_minor_units(amount):
            raise Declined("invalid_amount", "opening balance must be whole minor units, zero or more")
        self.permit(roles.credit_operation(roles.ISSUE, method), operator)
        if amount:
            rules.check_topup(None, amount, method, self.limits, self.currency, ntag=True)
            self._refuse_unless(operator, roles.ISSUE, lambda: self._check_ceiling(amount))
        record = rules.plan_issue(amount, method, now=self._now(), terminal_id=self.terminal_id)
        return self._activate(tag, "issue", record, method=method, operator=operator,
                              data={"holder": holder} if holder else {})

    def replace(self, tag: PurseTag, *, old_card_id: int, balance: int, comp: int = 0, operator: str | None = None,
                reason: str = "lost") -> Outcome:
        """A lost card's balance (as the collector's ledger knows it) put on a blank wristband; the old card is
        blocked here at once and everywhere after the next sync."""
        if not (isinstance(balance, int) and isinstance(comp, int) and 0 <= comp <= balance):
            raise Declined("invalid_amount", "amounts must be whole minor units with comp <= balance")
        self.permit(roles.REPLACE, operator)
        self._refuse_unless(operator, roles.REPLACE, lambda: self._check_ceiling(balance))
        if balance > self.limits.balance_cap(ntag=True):
            raise Declined("over_max_balance", "the balance to move is above this event's maximum balance")
        record = Record(seq=1, balance=balance, spent=0, comp=comp, time=self._now(), terminal=self.terminal_id,
                        op=Op.REPLACE)
        outcome = self._activate(tag, "replace", record, method=None, operator=operator,
                                 data={"replaces": old_card_id, "reason": reason})
        self.hotlist.add(old_card_id, f"replaced by card {outcome.state.card_id} ({reason})")
        return outcome

    def _activate(self, tag: PurseTag, op: str, record: Record, *, method: str | None, operator: str | None,
                  data: dict[str, Any]) -> Outcome:
        """Write the first record to a blank wristband (and personalise or lock it as its tier needs)."""
        return self._tier(tag).activate(tag, op, record, method=method, operator=operator, data=data)

    def topup(self, tag: PurseTag, amount: int, *, method: str = "cash", operator: str | None = None) -> Outcome:
        self.permit(roles.credit_operation(roles.TOPUP, method), operator)
        tier = self._tier(tag)
        tap = tier.open(tag, operator=operator, purpose="topup")
        current = tap.current
        self._check(tier, tap, operator, lambda: rules.check_topup(current, amount, method, self.limits,
                                                                   self.currency, ntag=tier.ntag))
        if tier.ntag:  # the daily ceiling bounds what a terminal can create on bands whose key it holds
            self._check(tier, tap, operator, lambda: self._check_ceiling(amount))
        planned = rules.plan_topup(current, amount, method, now=self._now(), terminal_id=self.terminal_id)
        return self._apply(tier, tap, "topup", planned, Change("credit", amount), operator=operator, method=method)

    def charge(self, tag: PurseTag, amount: int, *, items: Sequence[dict[str, Any]] = (),
               operator: str | None = None, sale_id: str | None = None) -> Outcome:
        """A sale. `sale_id` (chosen by the caller) makes a retried request recognisable in the journal."""
        item_list = [dict(i) for i in items]
        if item_list:
            total = sum(int(i["qty"]) * int(i["unit_price"]) for i in item_list)
            if total != amount:
                raise Declined("invalid_amount", f"items add up to {total}, not {amount}")
        self.permit(roles.SALE, operator)
        tier = self._tier(tag)
        tap = tier.open(tag, operator=operator, purpose="sale")
        current = tap.current
        self._check(tier, tap, operator, lambda: rules.check_sale(current, amount, self.limits, self.currency))
        planned = rules.plan_sale(current, amount, now=self._now(), terminal_id=self.terminal_id)
        return self._apply(tier, tap, "sale", planned, Change("debit", amount), operator=operator, items=item_list,
                           data={"sale_id": sale_id} if sale_id else {})

    def void(self, tag: PurseTag, *, operator: str | None = None) -> Outcome:
        """Undo the card's last sale, made here, within the void window."""
        self.permit(roles.VOID, operator)
        tier = self._tier(tag)
        tap = tier.open(tag, operator=operator, purpose="void")
        current, previous = tap.current, tap.previous
        sale = self._sale_entry(tap.card_id, current.seq) if current.op is Op.SALE else None
        self._check(tier, tap, operator, lambda: rules.check_void(
            current, previous, terminal_id=self.terminal_id, sale_time=current.time,
            sale_amount=sale["amount"] if sale else None, now=self._now(), limits=self.limits))
        assert sale is not None and previous is not None
        planned = rules.plan_void(current, previous, sale["amount"], now=self._now(), terminal_id=self.terminal_id)
        return self._apply(tier, tap, "void", planned, Change("refund", sale["amount"]), operator=operator,
                           items=sale["items"], data={"voids": sale["seq"]})

    def close(self, tag: PurseTag, *, operator: str | None = None, method: str = "cash") -> Outcome:
        """Checkout: the balance leaves the card, the refundable part is paid out, the card is closed."""
        self.permit(roles.CLOSE, operator)
        tier = self._tier(tag)
        tap = tier.open(tag, operator=operator, purpose="close")
        current = tap.current
        self._check(tier, tap, operator, lambda: rules.check_usable(current))
        planned = rules.plan_close(current, now=self._now(), terminal_id=self.terminal_id)
        split = {"refund": current.refundable, "forfeited_comp": current.balance - current.refundable}
        outcome = self._apply(tier, tap, "close", planned, Change("debit", current.balance), operator=operator,
                              method=method, data=split)
        return replace(outcome, extra=split)

    def pending(self) -> list[dict[str, Any]]:
        """Intents still waiting for their card (shown on the admin screen; settled at the next tap)."""
        return self.journal.pending()

    def recover(self, tag: PurseTag | None = None) -> list[dict[str, Any]]:
        """At start-up: settle pending intents of the card on the reader, if any; the rest wait for a tap."""
        if tag is not None:
            try:
                self.read(tag)
            except (CardError, Declined) as exc:
                log.info("start-up recovery could not read the card on the reader: %s", exc)
        return self.journal.pending()

    # --- written once over the card interface ----------------------------------
    def _apply(self, tier: CardTier, tap: Any, op: str, planned: Record, change: Change, *, operator: str | None,
               method: str | None = None, items: list[dict[str, Any]] | None = None,
               data: dict[str, Any] | None = None) -> Outcome:
        """Intent (with the exact bytes to write), write and commit on the card, then the journal's commit."""
        intent = self.journal.append(op, "intent", amount=change.amount, operator=operator, card_id=tap.card_id,
                                     uid=tap.uid, card_seq=planned.seq, balance_before=tap.current.balance,
                                     balance_after=planned.balance, method=method, items=items,
                                     data={**tier.prepare(tap, planned), **(data or {})})
        tier.write(tap, intent, change, operator)
        return self._commit(tier, tap, intent, planned)

    def _commit(self, tier: CardTier, tap: Any, intent: dict[str, Any], planned: Record) -> Outcome:
        entry = self.journal.append(intent["op"], "commit", ref=intent["seq"], operator=intent["operator"],
                                    amount=intent["amount"], card_id=intent["card_id"], uid=tap.uid,
                                    card_seq=planned.seq, balance_before=intent["balance_before"],
                                    balance_after=intent["balance_after"], method=intent["method"],
                                    items=intent["items"], data=intent["data"])
        state = tier.finish(tap, intent, planned)
        return Outcome(intent["op"], intent["amount"], intent["balance_before"], intent["balance_after"], state, entry)

    @staticmethod
    def _check(tier: CardTier, tap: Any, operator: str | None, check: Callable[[], None]) -> None:
        try:
            check()
        except Declined as exc:
            raise tier.decline(tap, operator, exc) from None

    def _abort(self, intent: dict[str, Any], operator: str | None, reason: str, *,
               indeterminate: bool = False) -> dict[str, Any]:
        data = {"reason": reason}
        if indeterminate:
            data["indeterminate"] = True
        log.info("settled pending %s %s: not on the card (%s)", intent["op"], intent["seq"], reason)
        return self.journal.append(intent["op"], "abort", ref=intent["seq"], operator=operator,
                                   card_id=intent["card_id"], uid=intent["uid"], data=data)

    # --- helpers of the operations -------------------------------------------

    def permit(self, operation: str, operator: str | None) -> None:
        """The terminal's mode and the operator's role, before the card is touched (front ends may ask first, to
        refuse before taking cash); a refusal is journaled, so the collector sees it."""
        self._refuse_unless(operator, operation, lambda: self.policy.check(operation, operator))

    def _check_ceiling(self, amount: int) -> None:
        rules.check_credit_today(credited_today(self.journal), amount, self.limits, self.currency)

    def _refuse_unless(self, operator: str | None, operation: str, check: Callable[[], None]) -> None:
        """A check made before any card is read: a refusal is journaled (no card) and raised."""
        try:
            check()
        except Declined as exc:
            record_decline(self.journal, exc.code, exc.message, operator=operator, operation=operation)
            log.info("refused %s by %s: %s", operation, operator, exc.code)
            raise

    def _journal_decline(self, exc: Declined, *, operator: str | None, card_id: int | None, uid: bytes,
                         balance: int | None, extra: dict[str, Any] | None = None) -> Declined:
        """A refusal at a tapped card, journaled (the collector sees it); returns the exception to raise."""
        record_decline(self.journal, exc.code, exc.message, operator=operator, card_id=card_id, uid=uid,
                       balance=balance, missing=exc.missing, **(extra or {}))
        log.info("declined card %s: %s", card_id, exc.code)
        return exc

    def _sale_entry(self, card_id: int, card_seq: int) -> dict[str, Any] | None:
        for entry in self.journal.entries(card_id=card_id):
            if entry["op"] == "sale" and entry["phase"] == "commit" and entry["card_seq"] == card_seq:
                return entry
        return None

    def _allocate_card_id(self, uid: bytes) -> int:
        cur = self.db.execute("INSERT INTO card_ids (uid) VALUES (?)", [uid.hex()])
        n = cur.lastrowid
        if n is None or n > 0xFFFF:
            raise Declined("out_of_card_ids", "this terminal has issued its 65535 cards; issue at another terminal")
        return (self.terminal_id << 16) | n


def history_items(records: Sequence[Record]) -> tuple[HistoryItem, ...]:
    """On-card history, newest first; an amount is known where the record before it is visible too."""
    history = []
    for i, rec in enumerate(records):
        prev = records[i + 1] if i + 1 < len(records) and records[i + 1].seq == rec.seq - 1 else None
        amount = abs(rec.balance - prev.balance) if prev else (rec.balance if rec.op is Op.ISSUE else None)
        history.append(HistoryItem(rec.seq, OP_NAMES[rec.op], amount, rec.balance, rec.terminal, rec.time))
    return tuple(history)
