"""The secure-card (DESFire) tier of the card interface (`card_tier`): the same operations, rules, journal and
outcomes as on NTAG, written once in `operations`.

check -> plan -> intent -> card -> commit: the rules
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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from terminal.wallet.card import CardAuthError, CardError, CardRemoved
from terminal.wallet.card_tier import Change
from terminal.wallet.desfire_keys import card_key, event_aid, identity_bytes, seal_master_key
from terminal.wallet.purse import PurseFormatError, Record
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
    epoch: int = 0  # the key epoch the tap's role key authenticated in

    @property
    def current(self) -> Record:
        return self.records[0]

    @property
    def previous(self) -> Record | None:
        return self.records[1] if len(self.records) > 1 and self.records[1].seq == self.current.seq - 1 else None


class SecureCardOps:
    """The DESFire tier of the card interface (`card_tier.CardTier`): `Wallet` hands a tapped `ValueCard`."""

    ntag = False

    def __init__(self, wallet: Wallet, keys: dict[str, bytes]) -> None:
        self.w = wallet
        self.keys = keys
        self.aid = event_aid(wallet.event_id)
        self.epochs = getattr(wallet, "desfire_epochs", None) or {0: keys}
        self.current = max(self.epochs)

    def _masters(self, role: str) -> list[tuple[int, bytes]]:
        """(epoch, role master key) newest first: a current band authenticates at the first try."""
        return [(e, self.epochs[e][role]) for e in sorted(self.epochs, reverse=True) if role in self.epochs[e]]

    def _open(self, card: ValueCard, role: str, uid: bytes) -> int:
        """Authenticate with the role's key of the newest epoch that opens the band; returns that epoch. A band
        torn mid-rotation holds each key number in one epoch or the other, so each is tried per key number."""
        masters = self._masters(role)
        if not masters:
            self._require(role)
        for n, (epoch, master) in enumerate(masters):
            try:
                card.open(self.aid, role, card_key(master, uid, self.w.event_id))
                return epoch
            except CardAuthError:
                if n == len(masters) - 1:
                    raise
        raise AssertionError("unreachable")

    # --- keys -------------------------------------------------------------------
    def _require(self, role: str) -> bytes:
        master = self.keys.get(role)
        if master is None:
            raise Declined("no_key", f"this terminal holds no DESFire {role} key: do this at a "
                           f"{'cashier' if role == 'credit' else 'sale'} terminal")
        return master

    def _key(self, role: str, uid: bytes) -> bytes:
        """The role's key of the current epoch (what a new card is given)."""
        master = self.epochs[self.current].get(role) or self._require(role)
        return card_key(master, uid, self.w.event_id)

    def _card_keys(self, uid: bytes) -> dict[str, bytes]:
        return {role: self._key(role, uid) for role in ("credit", "debit", "read")}

    # --- reading and settling ---------------------------------------------------
    def _tap(self, card: ValueCard, *, operator: str | None, history: int = 1, role: str | None = None) -> _SecureTap:
        role = role or ("debit" if "debit" in self.keys else "read")
        try:
            uid = card.key_uid(self.aid)
            pending = [i for i in self.w.journal.pending() if i["uid"] == uid.hex()]
            epoch = self._open(card, role, uid)
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
        tap = _SecureTap(card, uid, state.value, list(state.records), [r for _, r in decoded], card_id, epoch=epoch)
        self._settle(tap, operator)
        reason = self.w.hotlist.reason(card_id)
        if reason is not None:
            raise self._decline(uid, tap, operator, Declined("blocked", f"card blocked ({reason})"))
        old_until = getattr(self.w.band, "old_until", 0)
        if epoch < self.current and old_until and self.w._now() > old_until:
            raise self._decline(uid, tap, operator, Declined(
                "old_epoch", "this band's keys are of an older key epoch: exchange it at a cashier"))
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

    def decline(self, tap: _SecureTap, operator: str | None, exc: Declined) -> Declined:
        return self._decline(tap.uid, tap, operator, exc)

    # --- the card interface -----------------------------------------------------
    def open(self, card: ValueCard, *, operator: str | None, purpose: str) -> _SecureTap:
        if purpose == "topup":
            self._require("credit")  # refuse before touching the card at a terminal without it
        history = {"read": HISTORY_ON_READ, "void": 2}.get(purpose, 1)
        tap = self._tap(card, operator=operator, history=history)
        if tap.epoch < self.current and self._rotate(tap):
            tap = self._tap(card, operator=operator, history=history)
        return tap

    def _rotate(self, tap: _SecureTap) -> bool:
        """Move the band to the current epoch at a cashier tap while the collector is reachable: the collector
        releases the band's AMK (escrowed at issue), and ChangeKey sets keys 3, 1 and then 2 (the debit key last,
        so a band whose debit key opens in the current epoch is done). False when this terminal cannot."""
        release = getattr(self.w, "release_amk", None)
        newest = self.epochs[self.current]
        if release is None or any(role not in newest for role in ("credit", "debit", "read")):
            return False
        amk = release(tap.card_id)
        if amk is None:
            return False
        changes = []
        for role in ("read", "credit", "debit"):
            olds = [card_key(m, tap.uid, self.w.event_id) for e, m in self._masters(role) if e != self.current]
            new = card_key(newest[role], tap.uid, self.w.event_id)
            tried_first = [card_key(m, tap.uid, self.w.event_id) for e, m in self._masters(role) if e == tap.epoch]
            changes.append((role, new, list(dict.fromkeys([*tried_first, new, *olds]))))
        tap.card.change_role_keys(self.aid, amk, changes, version=(self.current + 1) & 0xFF)
        log.info("card %s moved to key epoch %s", tap.card_id, self.current)
        return True

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
            self._open(card, "debit", uid)
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
            self._open(card, "credit", uid)
            if record.balance:
                card.credit(record.balance)
            card.append_history(bytes.fromhex(data["record"]))
            card.commit()

        self._write(intent, operator, write)
        tap = _SecureTap(card, uid, None, [], [], card_id)
        return self.w._commit(self, tap, intent, record)

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

    # --- writing ----------------------------------------------------------------
    def prepare(self, tap: _SecureTap, planned: Record) -> dict[str, Any]:
        return {"record": encode_record(tap.card_id, planned).hex(), "card": "desfire"}

    def write(self, tap: _SecureTap, intent: dict[str, Any], change: Change, operator: str | None) -> None:
        """The value change and the history record in one card transaction, closed by CommitTransaction."""
        card, raw = tap.card, bytes.fromhex(intent["data"]["record"])

        def write() -> None:
            if change.kind == "credit":
                self._open(card, "credit", tap.uid)
                card.credit(change.amount)
            elif change.kind == "refund":
                card.refund_last_debit(change.amount)
            elif change.amount:
                card.debit(change.amount)
            card.append_history(raw)
            card.commit()

        self._write(intent, operator, write)

    def finish(self, tap: _SecureTap, intent: dict[str, Any], planned: Record) -> CardState:
        tap.raw.insert(0, bytes.fromhex(intent["data"]["record"]))
        tap.records.insert(0, planned)
        tap.value = planned.balance
        return self.state(tap)

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

    def state(self, tap: _SecureTap) -> CardState:
        from terminal.wallet.operations import CardState, history_items

        return CardState(uid=tap.uid, card_id=tap.card_id, product=tap.card.product, record=tap.current,
                         history=history_items(tap.records), resolved=tuple(tap.resolved))
