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
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlite_utils

from terminal.wallet import epochs, roles, rules
from terminal.wallet.card import CardAuthError, CardError, PurseTag, UnsupportedCard
from terminal.wallet.ceilings import credited_today
from terminal.wallet.epochs import BandKeys
from terminal.wallet.hotlist import Hotlist
from terminal.wallet.journal import Journal
from terminal.wallet.keys import event_tag
from terminal.wallet.lastseen import LastSeen
from terminal.wallet.purse import (
    FIRST_SLOT_PAGE,
    PRODUCTS,
    SLOT_BYTES,
    SLOT_PAGES,
    SLOTS,
    USER_START,
    Header,
    Op,
    PurseFormatError,
    PurseImage,
    PurseKeys,
    Record,
    new_header,
    seal,
    slot_page,
)
from terminal.wallet.roles import Policy
from terminal.wallet.rules import Declined, Limits
from terminal.wallet.value_card import is_value_card

if TYPE_CHECKING:
    from terminal.wallet.desfire_ops import SecureCardOps

log = logging.getLogger(__name__)

AUTH0 = USER_START  # every purse page needs the password to be written
READ_PAGES = 40  # pages 0..39: the largest layout (NTAG21x, 4 slots), present on every supported chip
ACTIVATIONS = frozenset({"issue", "replace"})  # ops that write a header to a blank card
COUNTER_PRODUCTS = frozenset({"MF0UL21"})  # chips with INCR_CNT one-way counters
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


@dataclass
class _Tap:
    """One tapped card as read: raw pages, verified header and records (None on a blank card)."""

    tag: PurseTag
    uid: bytes
    product: str
    raw: bytes
    keys: PurseKeys
    header: Header | None
    image: PurseImage | None
    resolved: list[dict[str, Any]] = field(default_factory=list)

    def slot_bytes(self, seq: int) -> bytes:
        assert self.header is not None
        start = slot_page(self.header, seq) * 4
        return self.raw[start : start + SLOT_BYTES]


class Wallet:
    def __init__(self, *, journal: Journal, master_key: bytes, event_id: str, terminal_id: int,
                 limits: Limits | None = None, hotlist: Hotlist | None = None, lastseen: LastSeen | None = None,
                 clock: Callable[[], float] = time.time, desfire_keys: dict[str, bytes] | None = None,
                 policy: Policy | None = None, band_keys: BandKeys | None = None) -> None:
        self.journal = journal
        # NTAG band keys by epoch (terminal.wallet.epochs); `master_key` alone is epoch 0
        self._band = band_keys or BandKeys.single(master_key, event_id)
        self._band_source: tuple[Any, float] | None = None  # Wallet.open: (key file, its mtime) to follow
        self.desfire_keys = desfire_keys or {}
        self.policy = policy or Policy()
        self._master_key = master_key
        self.event_id = event_id
        self.terminal_id = terminal_id
        self.currency = journal.currency
        self._limits = limits or Limits()
        self.follow_collector = False  # Wallet.open: the collector's limits (last bundle) bound the configured ones
        self.hotlist = hotlist or Hotlist(journal.db)
        self.lastseen = lastseen or LastSeen(journal.db)
        self._clock = clock
        self._event_tag = event_tag(event_id)

    @classmethod
    def open(cls, config: Any, keys: Any, *, clock: Callable[[], float] = time.time,
             role_of: Callable[[str], str | None] | None = None) -> Wallet:
        """A wallet on the terminal's own database, from a loaded Config and EventKeys; `role_of` names an
        operator's role (the terminal's operators), the enrolled mode comes from the configuration."""
        from terminal.wallet.journal import open_journal

        journal = open_journal(config.journal_path, terminal_id=config.terminal.id, event_id=config.event.id,
                               currency=config.event.currency)
        limits = Limits(max_balance=config.limits.max_balance, max_sale=config.limits.max_sale,
                        void_window_s=config.limits.void_window_s, ntag_max_balance=config.limits.ntag_max_balance,
                        credit_per_day=config.limits.credit_per_day)
        wallet = cls(journal=journal, master_key=keys.master_key, event_id=config.event.id,
                     terminal_id=config.terminal.id, limits=limits, clock=clock, desfire_keys=keys.desfire,
                     policy=Policy(config.terminal.mode, role_of), band_keys=keys.band_keys())
        wallet.follow_collector = True
        wallet._band_source = (config.keys_path, _mtime(config.keys_path))
        return wallet

    @property
    def band(self) -> BandKeys:
        """The band keys by epoch; a wallet opened from a key file picks up a new epoch written into it by a
        background sync (`sync.terminal_keys`) at the next tap, without a restart."""
        if self._band_source is not None:
            path, seen = self._band_source
            now = _mtime(path)
            if now != seen:
                from terminal.config import ConfigError, load_keys

                try:
                    self._band = load_keys(path, self.event_id).band_keys()
                    self._band_source = (path, now)
                except ConfigError as exc:  # a half-written or foreign file: keep the keys in hand
                    log.warning("key file changed but does not load: %s", exc)
        return self._band

    @property
    def limits(self) -> Limits:
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

    def _secure(self, tag: object) -> SecureCardOps | None:
        """The secure-card (DESFire) operations when `tag` is such a card; None for NTAG/Ultralight."""
        if not is_value_card(tag):
            return None
        from terminal.wallet.desfire_ops import SecureCardOps

        return SecureCardOps(self, self.desfire_keys)

    # --- public operations ----------------------------------------------------

    def read(self, tag: PurseTag, *, operator: str | None = None) -> CardState:
        """Balance, status and on-card history; settles any pending intent of this card. Never writes money."""
        self.permit(roles.READ, operator)
        if secure := self._secure(tag):
            return secure.read(tag, operator=operator)  # type: ignore[arg-type]
        tap = self._load(tag, operator=operator)
        return self._state(tap)

    def issue(self, tag: PurseTag, amount: int, *, method: str = "cash", holder: str | None = None,
              operator: str | None = None) -> Outcome:
        """Activate a blank wristband with an opening balance (zero allowed)."""
        if not (isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0):
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
        """Write header and first record to a blank wristband, then lock it with its password."""
        if secure := self._secure(tag):
            return secure.activate(tag, op, record, method=method, operator=operator, data=data)  # type: ignore[arg-type]
        tap = self._load(tag, operator=operator, allow_blank=True)
        if tap.image is not None:
            raise self._decline(tap, operator, Declined(
                "already_issued", f"card already issued (card {tap.image.header.card_id}); use top-up"))
        card_id = self._allocate_card_id(tap.uid)
        header = replace(new_header(tap.product, self.event_id, card_id), epoch=self.band.current)
        header_bytes = epochs.encode_header(self.band, tap.uid, header)
        sealed = seal(tap.keys, tap.uid, header, record)
        data = {"page": slot_page(header, record.seq), "record": sealed.hex(), "header": header_bytes.hex(),
                "product": tap.product, **data}
        intent = self.journal.append(op, "intent", amount=record.balance, operator=operator, card_id=card_id,
                                     uid=tap.uid, card_seq=record.seq, balance_before=0,
                                     balance_after=record.balance, method=method, data=data)
        try:
            self._unlock_if_protected(tap)
            # Magic last: a header torn part-way never reads as a StallPay header.
            for i in reversed(range(0, len(header_bytes), 4)):
                tap.tag.write_page(USER_START + i // 4, header_bytes[i : i + 4])
            self._write_pages(tap.tag, slot_page(header, record.seq), sealed)
            self._ensure_protected(tap)
        except CardAuthError as exc:
            self.journal.append(op, "abort", ref=intent["seq"], card_id=card_id, uid=tap.uid,
                                operator=operator, data={"reason": str(exc)})
            raise Declined("locked_card", "this card is locked with another password: not one of ours") from exc
        except CardError as exc:
            raise TapAgain(intent, exc) from exc
        tap.header = header
        tap.raw = _splice(_splice(tap.raw, USER_START, header_bytes), slot_page(header, record.seq), sealed)
        return self._commit(tap, intent, record)

    def topup(self, tag: PurseTag, amount: int, *, method: str = "cash", operator: str | None = None) -> Outcome:
        self.permit(roles.credit_operation(roles.TOPUP, method), operator)
        if secure := self._secure(tag):
            return secure.topup(tag, amount, method=method, operator=operator)  # type: ignore[arg-type]
        tap = self._load(tag, operator=operator)
        current = self._current(tap)
        self._check(tap, operator, lambda: rules.check_topup(current, amount, method, self.limits, self.currency,
                                                             ntag=True))
        self._check(tap, operator, lambda: self._check_ceiling(amount))
        planned = rules.plan_topup(current, amount, method, now=self._now(), terminal_id=self.terminal_id)
        return self._apply(tap, "topup", planned, amount=amount, operator=operator, method=method)

    def charge(self, tag: PurseTag, amount: int, *, items: Sequence[dict[str, Any]] = (),
               operator: str | None = None, sale_id: str | None = None) -> Outcome:
        """A sale. `sale_id` (chosen by the caller) makes a retried request recognisable in the journal."""
        item_list = [dict(i) for i in items]
        if item_list:
            total = sum(int(i["qty"]) * int(i["unit_price"]) for i in item_list)
            if total != amount:
                raise Declined("invalid_amount", f"items add up to {total}, not {amount}")
        self.permit(roles.SALE, operator)
        if secure := self._secure(tag):
            return secure.charge(tag, amount, items=item_list, operator=operator,  # type: ignore[arg-type]
                                 sale_id=sale_id)
        tap = self._load(tag, operator=operator)
        current = self._current(tap)
        self._check(tap, operator, lambda: rules.check_sale(current, amount, self.limits, self.currency))
        planned = rules.plan_sale(current, amount, now=self._now(), terminal_id=self.terminal_id)
        extra = {"sale_id": sale_id} if sale_id else {}
        return self._apply(tap, "sale", planned, amount=amount, operator=operator, items=item_list, data=extra)

    def void(self, tag: PurseTag, *, operator: str | None = None) -> Outcome:
        """Undo the card's last sale, made here, within the void window."""
        self.permit(roles.VOID, operator)
        if secure := self._secure(tag):
            return secure.void(tag, operator=operator)  # type: ignore[arg-type]
        tap = self._load(tag, operator=operator)
        current = self._current(tap)
        assert tap.image is not None
        sale = self._sale_entry(tap.image.header.card_id, current.seq) if current.op is Op.SALE else None
        previous = next((r for r in tap.image.records if r.seq == current.seq - 1), None)
        self._check(tap, operator, lambda: rules.check_void(
            current, previous, terminal_id=self.terminal_id, sale_time=current.time,
            sale_amount=sale["amount"] if sale else None, now=self._now(), limits=self.limits))
        assert sale is not None and previous is not None
        planned = rules.plan_void(current, previous, sale["amount"], now=self._now(), terminal_id=self.terminal_id)
        return self._apply(tap, "void", planned, amount=sale["amount"], operator=operator,
                           items=sale["items"], data={"voids": sale["seq"]})

    def close(self, tag: PurseTag, *, operator: str | None = None, method: str = "cash") -> Outcome:
        """Checkout: the balance leaves the card, the refundable part is paid out, the card is closed."""
        self.permit(roles.CLOSE, operator)
        if secure := self._secure(tag):
            return secure.close(tag, operator=operator, method=method)  # type: ignore[arg-type]
        tap = self._load(tag, operator=operator)
        current = self._current(tap)
        self._check(tap, operator, lambda: rules.check_usable(current))
        planned = rules.plan_close(current, now=self._now(), terminal_id=self.terminal_id)
        refund = current.refundable
        split = {"refund": refund, "forfeited_comp": current.balance - refund}
        outcome = self._apply(tap, "close", planned, amount=current.balance, operator=operator, method=method,
                              data=split)
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

    # --- reading and settling -------------------------------------------------

    def _load(self, tag: PurseTag, *, operator: str | None = None, allow_blank: bool = False) -> _Tap:
        # One FAST_READ covers UID, header and every slot on all supported chips; the
        # sealed header names the product, so an issued card needs no GET_VERSION.
        try:
            raw = tag.read_pages(0, READ_PAGES)
        except ValueError:  # the driver knows the chip and it has fewer pages
            raise UnsupportedCard(f"an {tag.info.product} is too small to hold a StallPay purse") from None
        peeked = epochs.peek(raw[USER_START * 4 : USER_START * 4 + 16])
        if peeked is not None:
            tag.hint_product(peeked[2])
        info = tag.info
        if info.product not in PRODUCTS:
            raise UnsupportedCard(f"an {info.product} is too small to hold a StallPay purse")
        uid = _uid_from_pages(raw) or info.uid
        product = info.product
        keys = self.band.purse(self.band.current, uid)
        tap = _Tap(tag=tag, uid=uid, product=product, raw=raw, keys=keys, header=None, image=None)
        if peeked is None:
            self._settle_blank(tap, operator)
            if allow_blank:
                return tap
            raise Declined("blank", "blank card: it has not been issued yet (issue it at a cashier)")
        tag_bytes, card_id, _product, epoch = peeked
        if self._event_tag[:3] != tag_bytes:
            raise Declined("wrong_event", "this card belongs to another event")
        if epoch > self.band.current:
            raise Declined("newer_epoch", "this band carries event keys newer than this terminal's: sync it")
        try:
            tap.header = epochs.decode_header(self.band, uid, raw[USER_START * 4 : USER_START * 4 + 16])
        except PurseFormatError:
            self._settle_blank(tap, operator)
            if self.lastseen.get(card_id) is not None or self.lastseen.knows_uid(uid):
                raise self._decline(tap, operator, Declined(
                    "tampered", "card data does not verify for this card: refused"), card_id=card_id) from None
            # Never seen with a balance: an issue torn inside the header. Nothing on it can hold money.
            if allow_blank:
                return tap
            raise Declined("blank", "card issue was interrupted: issue it again at a cashier") from None
        try:
            tap.image = epochs.parse_image(self.band, uid, tap.header, raw)
        except PurseFormatError:
            tap.image = None
        self._settle(tap, operator)
        if tap.image is None:
            if self.lastseen.get(card_id) is not None or self.lastseen.knows_uid(uid):
                raise self._decline(tap, operator, Declined(
                    "tampered", "the card's balance records do not verify: refused"), card_id=card_id)
            # A header without any record is an issue torn before its record landed.
            if allow_blank:
                return tap
            raise Declined("blank", "card issue was interrupted: issue it again at a cashier")
        self._check_fresh(tap, operator)
        if self._stale(tap) and 0 < self.band.old_until < self._now():
            raise self._decline(tap, operator, Declined(
                "old_epoch", "this band still carries keys from before a key rotation: exchange it at a cashier"))
        return tap

    def _settle_blank(self, tap: _Tap, operator: str | None) -> None:
        """A card with no header here can only have pending issues: they did not happen."""
        for intent in self.journal.pending():
            if intent["uid"] == tap.uid.hex() and intent["op"] in ACTIVATIONS:
                tap.resolved.append(self._abort(intent, operator, "card holds no purse"))

    def _settle(self, tap: _Tap, operator: str | None) -> None:
        assert tap.header is not None
        card_id = tap.header.card_id
        for intent in self.journal.pending(card_id):
            planned_seq = intent["card_seq"]
            planned = bytes.fromhex(intent["data"]["record"])
            if intent["op"] in ACTIVATIONS and tap.raw[USER_START * 4 : USER_START * 4 + 16] != bytes.fromhex(
                    intent["data"]["header"]):
                tap.resolved.append(self._abort(intent, operator, "header not written"))
                continue
            landed = tap.slot_bytes(planned_seq) == planned
            if landed and intent["op"] in ACTIVATIONS:
                try:
                    self._ensure_protected(tap)
                except CardError as exc:
                    raise TapAgain(intent, exc) from exc
            if landed:
                entry = self.journal.append(intent["op"], "commit", ref=intent["seq"], operator=intent["operator"],
                                            amount=intent["amount"], card_id=card_id, uid=tap.uid,
                                            card_seq=planned_seq, balance_before=intent["balance_before"],
                                            balance_after=intent["balance_after"], method=intent["method"],
                                            items=intent["items"], data={**intent["data"], "settled_at_tap": True})
                tap.resolved.append(entry)
                self.lastseen.update(card_id, tap.uid, planned_seq, planned)
                log.info("settled pending %s %s: the card holds it", intent["op"], intent["seq"])
                continue
            newest = tap.image.current.seq if tap.image else 0
            if newest < planned_seq or any(r.seq == planned_seq for r in (tap.image.records if tap.image else ())):
                tap.resolved.append(self._abort(intent, operator, "the card holds the state before"))
            else:
                # The card moved on elsewhere and the record is out of sight: the collector decides.
                tap.resolved.append(self._abort(intent, operator, "indeterminate", indeterminate=True))

    def _abort(self, intent: dict[str, Any], operator: str | None, reason: str, *,
               indeterminate: bool = False) -> dict[str, Any]:
        data = {"reason": reason}
        if indeterminate:
            data["indeterminate"] = True
        log.info("settled pending %s %s: not on the card (%s)", intent["op"], intent["seq"], reason)
        return self.journal.append(intent["op"], "abort", ref=intent["seq"], operator=operator,
                                   card_id=intent["card_id"], uid=intent["uid"], data=data)

    def _check_fresh(self, tap: _Tap, operator: str | None) -> None:
        """Refuse blocked, rolled-back and cloned cards; remember this card's newest state."""
        assert tap.image is not None and tap.header is not None
        card_id = tap.header.card_id
        current = tap.image.current
        reason = self.hotlist.reason(card_id)
        if reason is not None:
            raise self._decline(tap, operator, Declined("blocked", f"card blocked ({reason})"))
        counter = tap.tag.read_counter() if tap.product in COUNTER_PRODUCTS else None
        seen = self.lastseen.get(card_id)
        rolled_back = (seen is not None and current.seq < seen[1]) or (counter is not None and current.seq < counter)
        if rolled_back:
            self.hotlist.add(card_id, "rollback")
            raise self._decline(tap, operator, Declined(
                "rollback", "card shows an older state than already seen: blocked, report to the organizer"))
        if seen is not None and current.seq == seen[1] and seen[2] not in {
                LastSeen.digest(b) for b in epochs.sealed_forms(self.band, tap.uid, tap.header, current)}:
            self.hotlist.add(card_id, "clone")
            raise self._decline(tap, operator, Declined(
                "cloned", "card data differs from what this terminal wrote: blocked, report to the organizer"))
        previous = next((r for r in tap.image.records if r.seq == current.seq - 1), None)
        try:
            rules.check_record(current, previous, self.limits, ntag=True)
        except Declined as exc:
            self.hotlist.add(card_id, "over_limit")
            raise self._decline(tap, operator, exc) from None
        self.lastseen.update(card_id, tap.uid, current.seq, tap.slot_bytes(current.seq))

    # --- writing --------------------------------------------------------------

    def _apply(self, tap: _Tap, op: str, planned: Record, *, amount: int, operator: str | None,
               method: str | None = None, items: list[dict[str, Any]] | None = None,
               data: dict[str, Any] | None = None) -> Outcome:
        assert tap.header is not None and tap.image is not None
        current = tap.image.current
        sealed = seal(tap.keys, tap.uid, tap.header, planned)
        page = slot_page(tap.header, planned.seq)
        intent = self.journal.append(op, "intent", amount=amount, operator=operator, card_id=tap.header.card_id,
                                     uid=tap.uid, card_seq=planned.seq, balance_before=current.balance,
                                     balance_after=planned.balance, method=method, items=items,
                                     data={"page": page, "record": sealed.hex(), "prev_terminal": current.terminal,
                                           **(data or {})})
        password_epoch = self._password_epoch(tap)
        password, _pack = self.band.password(password_epoch, tap.uid)
        try:
            tap.tag.authenticate(password)
        except CardAuthError as exc:
            self._abort(intent, operator, f"password refused: {exc}")
            if tap.header.epoch < self.band.current:  # a re-key torn after its password write
                raise self._decline(tap, operator, Declined(
                    "rekey_interrupted", "the band's key change was interrupted: tap it again"),
                    data={"password_epoch": self.band.current}) from exc
            raise Declined("tampered", "the card refused this event's password: refused") from exc
        except CardError as exc:
            self._abort(intent, operator, f"card gone before writing: {exc}")
            raise
        try:
            if self._stale(tap):
                self._rekey(tap, password_epoch)
            counter = tap.tag.read_counter() if tap.product in COUNTER_PRODUCTS else None
            if counter is not None:
                for _ in range(max(0, current.seq - counter)):
                    tap.tag.increment_counter()
            self._write_pages(tap.tag, page, sealed)
            if counter is not None:
                tap.tag.increment_counter()
            tap.raw = _splice(tap.raw, page, sealed)
            self._reseal_history(tap)
        except CardError as exc:
            raise TapAgain(intent, exc) from exc
        return self._commit(tap, intent, planned)

    def _commit(self, tap: _Tap, intent: dict[str, Any], planned: Record) -> Outcome:
        assert tap.header is not None
        entry = self.journal.append(intent["op"], "commit", ref=intent["seq"], operator=intent["operator"],
                                    amount=intent["amount"], card_id=tap.header.card_id, uid=tap.uid,
                                    card_seq=planned.seq, balance_before=intent["balance_before"],
                                    balance_after=intent["balance_after"], method=intent["method"],
                                    items=intent["items"], data=intent["data"])
        self.lastseen.update(tap.header.card_id, tap.uid, planned.seq, bytes.fromhex(intent["data"]["record"]))
        tap.image = epochs.parse_image(self.band, tap.uid, tap.header, tap.raw)
        state = self._state(tap)
        return Outcome(intent["op"], intent["amount"], intent["balance_before"], intent["balance_after"], state, entry)

    @staticmethod
    def _write_pages(tag: PurseTag, page: int, data: bytes) -> None:
        for i in range(0, len(data), 4):
            tag.write_page(page + i // 4, data[i : i + 4])

    def _cfg_auth0(self, tap: _Tap) -> int:
        return tap.tag.read_pages(tap.tag.info.config_page, 1)[3]

    def _unlock_if_protected(self, tap: _Tap) -> None:
        if self._cfg_auth0(tap) <= FIRST_SLOT_PAGE + SLOTS[tap.product] * SLOT_PAGES:
            password, _pack = self.band.password(self.band.current, tap.uid)
            tap.tag.authenticate(password)

    def _ensure_protected(self, tap: _Tap) -> None:
        if self._cfg_auth0(tap) == AUTH0:
            return
        password, pack = self.band.password(self.band.current, tap.uid)
        tap.tag.protect(password, pack, AUTH0)

    def _password_epoch(self, tap: _Tap) -> int:
        """The header's epoch, or the current one when this terminal saw a re-key of this band torn after its
        password write (journaled `rekey_interrupted`)."""
        assert tap.header is not None
        if tap.header.epoch == self.band.current:
            return tap.header.epoch
        row = self.db.execute("SELECT data FROM journal WHERE op = 'decline' AND uid = ? ORDER BY seq DESC LIMIT 1",
                              [tap.uid.hex()]).fetchone()
        return self.band.current if row and '"rekey_interrupted"' in row[0] else tap.header.epoch

    def _stale(self, tap: _Tap) -> bool:
        """The band (its header, or the newest record's seal) is in an older epoch than this terminal writes."""
        assert tap.header is not None
        return tap.header.epoch < self.band.current or \
            epochs.newest_epoch(self.band, tap.uid, tap.header, tap.raw) < self.band.current

    def _rekey(self, tap: _Tap, password_epoch: int) -> None:
        """Move the band to the current epoch (authenticated already): password, header, history slots. Each
        write leaves a band that reads under the old or the new epoch (terminal.wallet.epochs)."""
        assert tap.header is not None
        if password_epoch != self.band.current:
            password, pack = self.band.password(self.band.current, tap.uid)
            tap.tag.write_page(tap.tag.info.config_page + 2, password)
            tap.tag.write_page(tap.tag.info.config_page + 3, pack + b"\x00\x00")
        for page, data in epochs.header_pages(self.band, tap.uid, tap.header):
            tap.tag.write_page(USER_START + page, data)
            tap.raw = _splice(tap.raw, USER_START + page, data)
        self._reseal_history(tap)
        tap.header = replace(tap.header, epoch=self.band.current)

    def _reseal_history(self, tap: _Tap) -> None:
        assert tap.header is not None
        for page, sealed in epochs.reseals(self.band, tap.uid, tap.header, tap.raw):
            self._write_pages(tap.tag, page, sealed)
            tap.raw = _splice(tap.raw, page, sealed)

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
            self.journal.append("decline", "info", operator=operator,
                                data={"code": exc.code, "reason": exc.message, "operation": operation})
            log.info("refused %s by %s: %s", operation, operator, exc.code)
            raise

    def _current(self, tap: _Tap) -> Record:
        assert tap.image is not None
        return tap.image.current

    def _check(self, tap: _Tap, operator: str | None, check: Callable[[], None]) -> None:
        try:
            check()
        except Declined as exc:
            raise self._decline(tap, operator, exc) from None

    def _decline(self, tap: _Tap, operator: str | None, exc: Declined, *, card_id: int | None = None,
                 data: dict[str, Any] | None = None) -> Declined:
        if card_id is None and tap.header is not None:
            card_id = tap.header.card_id
        balance = tap.image.current.balance if tap.image is not None else None
        self.journal.append("decline", "info", operator=operator, card_id=card_id, uid=tap.uid,
                            balance_before=balance, balance_after=balance,
                            data={"code": exc.code, "reason": exc.message,
                                  **({"missing": exc.missing} if exc.missing is not None else {}), **(data or {})})
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

    def _state(self, tap: _Tap) -> CardState:
        assert tap.image is not None and tap.header is not None
        records = tap.image.records
        return CardState(uid=tap.uid, card_id=tap.header.card_id, product=tap.product, record=records[0],
                         history=history_items(records), resolved=tuple(tap.resolved))


def history_items(records: Sequence[Record]) -> tuple[HistoryItem, ...]:
    """On-card history, newest first; an amount is known where the record before it is visible too."""
    history = []
    for i, rec in enumerate(records):
        prev = records[i + 1] if i + 1 < len(records) and records[i + 1].seq == rec.seq - 1 else None
        amount = abs(rec.balance - prev.balance) if prev else (rec.balance if rec.op is Op.ISSUE else None)
        history.append(HistoryItem(rec.seq, OP_NAMES[rec.op], amount, rec.balance, rec.terminal, rec.time))
    return tuple(history)


def _uid_from_pages(raw: bytes) -> bytes | None:
    """The 7-byte UID from pages 0-1, if both check bytes agree (ISO 14443-3 cascade level 2)."""
    if len(raw) < 9:
        return None
    uid = raw[0:3] + raw[4:8]
    if raw[3] != 0x88 ^ raw[0] ^ raw[1] ^ raw[2] or raw[8] != raw[4] ^ raw[5] ^ raw[6] ^ raw[7]:
        return None
    return uid


def _mtime(path: Any) -> float:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0.0


def _splice(raw: bytes, page: int, data: bytes) -> bytes:
    start = page * 4
    if len(raw) < start + len(data):
        raw = raw + bytes(start + len(data) - len(raw))
    return raw[:start] + data + raw[start + len(data):]
