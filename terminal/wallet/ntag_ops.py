"""The NTAG21x / Ultralight EV1 tier of the card interface (`card_tier`): the wallet's operations, written once
in `operations`, read, write and commit a band through it.

The band keeps
its money in sealed records (`purse`); the NTAG driver (`terminal.nfc.ntag_purse`)
knows where they lie, the password and the counter. A new record goes to the
slot holding no valid record or the oldest one, never touching the newest
record's pages, so a write torn at any byte leaves the newest record valid and
the next tap finds either it or the planned record. A band written before the
compact format is read as it is and gets its next record in the compact format.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from terminal.nfc.errors import CardAuthError, CardError
from terminal.nfc.ntag import NtagTag
from terminal.nfc.ntag_purse import COMPACT, LEGACY, SLOT_COUNTS, NtagPurse, PurseImage, SlotRef, target_slot
from terminal.wallet import epochs, rules
from terminal.wallet.card_tier import Change
from terminal.wallet.lastseen import LastSeen
from terminal.wallet.purse import Header, PurseFormatError, PurseKeys, Record, new_header, seal
from terminal.wallet.rules import Declined

if TYPE_CHECKING:
    from terminal.wallet.operations import CardState, Outcome, Wallet

log = logging.getLogger(__name__)
ACTIVATIONS = frozenset({"issue", "replace"})  # ops that write a header to a blank card


@dataclass
class _Tap:
    """One tapped band as read: its image, verified header and valid records (none on a blank band)."""

    card: NtagPurse
    image: PurseImage
    product: str
    keys: PurseKeys
    header: Header | None = None
    records: list[tuple[Record, SlotRef]] = field(default_factory=list)  # newest first
    found: list[epochs.Found] = field(default_factory=list)  # the same, with the epoch that sealed each
    invalid: list[SlotRef] = field(default_factory=list)  # slots holding no valid record
    resolved: list[dict[str, Any]] = field(default_factory=list)

    @property
    def uid(self) -> bytes:
        return self.image.uid

    @property
    def current(self) -> Record:
        return self.records[0][0]

    @property
    def card_id(self) -> int:
        assert self.header is not None
        return self.header.card_id

    @property
    def previous(self) -> Record | None:
        return next((r for r, _ in self.records if r.seq == self.current.seq - 1), None)

    def raw_of(self, index: int = 0) -> bytes:
        return self.image.slot(self.records[index][1])

    def parse(self, band: epochs.BandKeys) -> None:
        assert self.header is not None
        self.found, self.invalid = epochs.parse_slots(band, self.header, self.image, self.product)
        self.records = [(f.record, f.ref) for f in self.found]

    def stale(self, band: epochs.BandKeys) -> bool:
        """The header, or the newest record's seal, is of an older epoch than the one this terminal writes."""
        assert self.header is not None
        return self.header.epoch < band.current or (bool(self.found) and self.found[0].epoch < band.current)

    def target(self) -> SlotRef:
        """The slot for the next record: a slot holding nothing valid, else the oldest, never the newest's pages."""
        return target_slot(self.product, self.records[0][1], self.invalid + [ref for _, ref in reversed(self.records)])


def parse_slots(keys: PurseKeys, header: Header, image: PurseImage,
                product: str) -> tuple[list[tuple[Record, SlotRef]], list[SlotRef]]:
    """Verify every slot the header's version allows under one purse key: the valid records newest first, and the
    other slots (`epochs.parse_slots` tries every epoch's key)."""
    found, invalid = epochs.parse_with([(0, keys)], header, image, product)
    return [(f.record, f.ref) for f in found], invalid


def intent_slot(data: dict[str, Any]) -> SlotRef:
    """The slot an intent wrote to; intents journaled before the compact format name only the legacy page."""
    if "slot" in data:
        fmt, index = data["slot"]
        return SlotRef(int(fmt), int(index))
    return SlotRef(LEGACY, (int(data["page"]) - 8) // 8)


class NtagOps:
    """The NTAG/Ultralight tier of the card interface (`card_tier.CardTier`): `Wallet` hands a tapped `NtagTag`."""

    ntag = True

    def __init__(self, wallet: Wallet) -> None:
        self.w = wallet

    def _password(self, uid: bytes, epoch: int | None = None) -> tuple[bytes, bytes]:
        band = self.w.band
        return band.password(band.current if epoch is None else epoch, uid)

    # --- reading and settling -------------------------------------------------
    def _load(self, tag: NtagTag, *, operator: str | None = None, allow_blank: bool = False) -> _Tap:
        # One FAST_READ covers UID, header and every slot on all supported chips; the
        # sealed header names the product, so an issued band needs no GET_VERSION.
        card = NtagPurse(tag)
        image = card.read()
        peeked = epochs.peek(image.header)
        if peeked is not None:
            card.hint_product(peeked[2])
        product = card.product
        band = self.w.band
        keys = band.purse(band.current, image.uid)
        tap = _Tap(card=card, image=image, product=product, keys=keys)
        if peeked is None:
            self._settle_blank(tap, operator)
            if allow_blank:
                return tap
            raise Declined("blank", "blank card: it has not been issued yet (issue it at a cashier)")
        tag_bytes, card_id = peeked[0], peeked[1]
        if tag_bytes != self.w._event_tag[:3]:  # the 4th byte is the key epoch from header version 3 on
            raise Declined("wrong_event", "this card belongs to another event")
        if peeked[4] > band.current:
            raise Declined("newer_epoch", "this band carries event keys newer than this terminal's: sync it")
        known = self.w.lastseen.get(card_id) is not None or self.w.lastseen.knows_uid(tap.uid)
        try:
            tap.header = epochs.decode_header(band, tap.uid, image.header)
        except PurseFormatError:
            self._settle_blank(tap, operator)
            if known:
                raise self._decline(tap, operator, Declined(
                    "tampered", "card data does not verify for this card: refused"), card_id=card_id) from None
            # Never seen with a balance: an issue torn inside the header. Nothing on it can hold money.
            if allow_blank:
                return tap
            raise Declined("blank", "card issue was interrupted: issue it again at a cashier") from None
        tap.parse(band)
        self._settle(tap, operator)
        if not tap.records:
            if known:
                raise self._decline(tap, operator, Declined(
                    "tampered", "the card's balance records do not verify: refused"), card_id=card_id)
            # A header without any record is an issue torn before its record landed.
            if allow_blank:
                return tap
            raise Declined("blank", "card issue was interrupted: issue it again at a cashier")
        self._check_fresh(tap, operator)
        if tap.stale(band) and 0 < band.old_until < self.w._now():
            raise self._decline(tap, operator, Declined(
                "old_epoch", "this band still carries keys from before a key rotation: exchange it at a cashier"))
        return tap

    def _settle_blank(self, tap: _Tap, operator: str | None) -> None:
        """A band with no header here can only have pending issues: they did not happen."""
        for intent in self.w.journal.pending():
            if intent["uid"] == tap.uid.hex() and intent["op"] in ACTIVATIONS:
                tap.resolved.append(self.w._abort(intent, operator, "card holds no purse"))

    def _settle(self, tap: _Tap, operator: str | None) -> None:
        assert tap.header is not None
        card_id = tap.header.card_id
        for intent in self.w.journal.pending(card_id):
            planned_seq = intent["card_seq"]
            planned = bytes.fromhex(intent["data"]["record"])
            if intent["op"] in ACTIVATIONS and tap.image.header != bytes.fromhex(intent["data"]["header"]):
                tap.resolved.append(self.w._abort(intent, operator, "header not written"))
                continue
            landed = tap.image.slot(intent_slot(intent["data"])) == planned
            if landed and intent["op"] in ACTIVATIONS:
                password, pack = self._password(tap.uid)
                try:
                    tap.card.ensure_protected(password, pack)
                except CardError as exc:
                    from terminal.wallet.operations import TapAgain

                    raise TapAgain(intent, exc) from exc
            if landed:
                entry = self.w.journal.append(
                    intent["op"], "commit", ref=intent["seq"], operator=intent["operator"], amount=intent["amount"],
                    card_id=card_id, uid=tap.uid, card_seq=planned_seq, balance_before=intent["balance_before"],
                    balance_after=intent["balance_after"], method=intent["method"], items=intent["items"],
                    data={**intent["data"], "settled_at_tap": True})
                tap.resolved.append(entry)
                self.w.lastseen.update(card_id, tap.uid, planned_seq, planned)
                log.info("settled pending %s %s: the card holds it", intent["op"], intent["seq"])
                continue
            newest = tap.current.seq if tap.records else 0
            if newest < planned_seq or any(r.seq == planned_seq for r, _ in tap.records):
                tap.resolved.append(self.w._abort(intent, operator, "the card holds the state before"))
            else:
                # The band moved on elsewhere and the record is out of sight: the collector decides.
                tap.resolved.append(self.w._abort(intent, operator, "indeterminate", indeterminate=True))

    def _check_fresh(self, tap: _Tap, operator: str | None) -> None:
        """Refuse blocked, rolled-back and cloned bands; remember this band's newest state."""
        assert tap.header is not None
        card_id = tap.header.card_id
        current = tap.current
        reason = self.w.hotlist.reason(card_id)
        if reason is not None:
            raise self._decline(tap, operator, Declined("blocked", f"card blocked ({reason})"))
        tap.image = tap.card.with_counter(tap.image)
        counter = tap.image.counter
        seen = self.w.lastseen.get(card_id)
        if (seen is not None and current.seq < seen[1]) or (counter is not None and current.seq < counter):
            self.w.hotlist.add(card_id, "rollback")
            raise self._decline(tap, operator, Declined(
                "rollback", "card shows an older state than already seen: blocked, report to the organizer"))
        if seen is not None and current.seq == seen[1] and seen[2] not in {
                LastSeen.digest(b) for b in epochs.sealed_forms(self.w.band, tap.uid, tap.header, tap.found[0],
                                                                 tap.product)}:
            self.w.hotlist.add(card_id, "clone")
            raise self._decline(tap, operator, Declined(
                "cloned", "card data differs from what this terminal wrote: blocked, report to the organizer"))
        try:
            rules.check_record(current, tap.previous, self.w.limits, ntag=True)
        except Declined as exc:
            self.w.hotlist.add(card_id, "over_limit")
            raise self._decline(tap, operator, exc) from None
        if seen != (tap.uid.hex(), current.seq, LastSeen.digest(tap.raw_of())):  # a write only when it is news
            self.w.lastseen.update(card_id, tap.uid, current.seq, tap.raw_of())

    def _decline(self, tap: _Tap, operator: str | None, exc: Declined, *, card_id: int | None = None) -> Declined:
        if card_id is None and tap.header is not None:
            card_id = tap.header.card_id
        balance = tap.current.balance if tap.records else None
        return self.w._journal_decline(exc, operator=operator, card_id=card_id, uid=tap.uid, balance=balance)

    def decline(self, tap: _Tap, operator: str | None, exc: Declined) -> Declined:
        return self._decline(tap, operator, exc)

    # --- the card interface ----------------------------------------------------
    def open(self, tag: NtagTag, *, operator: str | None, purpose: str) -> _Tap:
        return self._load(tag, operator=operator)

    def activate(self, tag: NtagTag, op: str, record: Record, *, method: str | None, operator: str | None,
                 data: dict[str, Any]) -> Outcome:
        """Header and first record onto a blank band, then lock it with its password."""
        from terminal.wallet.operations import TapAgain

        tap = self._load(tag, operator=operator, allow_blank=True)
        if tap.records:
            raise self._decline(tap, operator, Declined(
                "already_issued", f"card already issued (card {tap.header.card_id if tap.header else '?'}); "
                "use top-up"))
        card_id = self.w._allocate_card_id(tap.uid)
        band = self.w.band
        header = epochs.issued(band, new_header(tap.product, self.w.event_id, card_id))
        header_bytes = epochs.encode_header(band, tap.uid, header)
        ref = SlotRef(COMPACT, record.seq % SLOT_COUNTS[COMPACT][tap.product])
        sealed = self._seal(tap, header, record, ref)
        data = {"page": ref.page, "slot": [ref.fmt, ref.index], "record": sealed.hex(), "header": header_bytes.hex(),
                "product": tap.product, **data}
        intent = self.w.journal.append(op, "intent", amount=record.balance, operator=operator, card_id=card_id,
                                       uid=tap.uid, card_seq=record.seq, balance_before=0,
                                       balance_after=record.balance, method=method, data=data)
        password, pack = self._password(tap.uid)
        try:
            tap.card.activate(password, pack, header_bytes, ref, sealed)
        except CardAuthError as exc:
            self.w.journal.append(op, "abort", ref=intent["seq"], card_id=card_id, uid=tap.uid,
                                  operator=operator, data={"reason": str(exc)})
            raise Declined("locked_card", "this card is locked with another password: not one of ours") from exc
        except CardError as exc:
            raise TapAgain(intent, exc) from exc
        tap.header = header
        tap.image = tap.image.written(4, header_bytes).written(ref.page, sealed)
        return self.w._commit(self, tap, intent, record)

    # --- writing ----------------------------------------------------------------
    def _seal(self, tap: _Tap, header: Header, record: Record, ref: SlotRef) -> bytes:
        try:
            return seal(tap.keys, tap.uid, header, record, ref.index)
        except ValueError:
            raise self._decline(tap, None, Declined(
                "card_full", "this band cannot record more (sequence or amounts too large): replace it at a "
                "cashier")) from None

    def prepare(self, tap: _Tap, planned: Record) -> dict[str, Any]:
        assert tap.header is not None
        ref = tap.target()
        sealed = self._seal(tap, tap.header, planned, ref)
        return {"page": ref.page, "slot": [ref.fmt, ref.index], "record": sealed.hex(),
                "prev_terminal": tap.current.terminal}

    def write(self, tap: _Tap, intent: dict[str, Any], change: Change, operator: str | None) -> None:
        """PWD_AUTH, then the record's pages; the money is in the record, so `change` needs nothing more. A band
        of an older key epoch is moved to the current one on the way (`terminal.wallet.epochs`)."""
        from terminal.wallet.operations import TapAgain

        assert tap.header is not None
        ref = intent_slot(intent["data"])
        sealed = bytes.fromhex(intent["data"]["record"])
        password, moved = self._auth_password(tap)
        try:
            tap.card.authenticate(password)
        except CardAuthError as exc:
            self.w._abort(intent, operator, f"password refused: {exc}")
            if tap.header.epoch < self.w.band.current:  # a move to this epoch torn after its password write
                raise self._decline(tap, operator, Declined(
                    "rekey_interrupted", "the band's key change was interrupted: tap it again")) from exc
            raise Declined("tampered", "the card refused this event's password: refused") from exc
        except CardError as exc:
            self.w._abort(intent, operator, f"card gone before writing: {exc}")
            raise
        try:
            if tap.stale(self.w.band):
                self._move_header(tap, moved)
            tap.card.write_record(ref, sealed, seq=intent["card_seq"], counter=tap.image.counter)
        except CardError as exc:
            raise TapAgain(intent, exc) from exc
        tap.image = tap.image.written(ref.page, sealed)
        self._reseal(tap, ref)

    def _auth_password(self, tap: _Tap) -> tuple[bytes, bool]:
        """The password to try, and whether it is already the current epoch's. A band of an older epoch has its
        old password, unless a move was torn at its password write: then the new one, or, if the page was torn
        part-way, a mix of both (new bytes first). Each refused tap here (journaled `rekey_interrupted`) moves to
        the next candidate, so a torn move costs at most four refused taps and never locks the band out."""
        assert tap.header is not None
        band = self.w.band
        new, _pack = self._password(tap.uid)
        if tap.header.epoch == band.current:
            return new, True
        old, _pack = self._password(tap.uid, tap.header.epoch)
        refused = self.w.db.execute(
            "SELECT COUNT(*) FROM journal WHERE op = 'decline' AND uid = ? AND json_extract(data, '$.code') = "
            "'rekey_interrupted' AND seq > (SELECT COALESCE(MAX(seq), 0) FROM journal WHERE uid = ? AND "
            "phase = 'commit')", [tap.uid.hex(), tap.uid.hex()]).fetchone()[0]
        candidates = [old, new] + [new[:k] + old[k:] for k in (1, 2, 3)]
        password = candidates[refused % len(candidates)]
        return password, password == new

    def _move_header(self, tap: _Tap, password_moved: bool) -> None:
        """Password (unless already moved), epoch page, version page: each write leaves a band that reads."""
        assert tap.header is not None
        band = self.w.band
        if not password_moved:
            tap.card.change_password(*self._password(tap.uid))
        for page, data in epochs.header_pages(band, tap.header):
            if tap.image.raw[page * 4: page * 4 + 4] != data:
                tap.card.write_pages(page, data)
                tap.image = tap.image.written(page, data)
        tap.header = epochs.moved(band, tap.header)

    def _reseal(self, tap: _Tap, written: SlotRef) -> None:
        """Every older-epoch record re-sealed in place, after the operation's record landed: the money is written,
        so a band pulled away here loses history at most, and the next write finishes the job."""
        assert tap.header is not None
        for ref, data in epochs.reseals(self.w.band, tap.uid, tap.header, tap.found, written, tap.product):
            try:
                tap.card.write_pages(ref.page, data)
            except CardError as exc:
                log.info("re-sealing history of card %s stopped: %s", tap.card_id, exc)
                return
            tap.image = tap.image.written(ref.page, data)

    def finish(self, tap: _Tap, intent: dict[str, Any], planned: Record) -> CardState:
        self.w.lastseen.update(tap.card_id, tap.uid, planned.seq, bytes.fromhex(intent["data"]["record"]))
        tap.parse(self.w.band)
        return self.state(tap)

    def state(self, tap: _Tap) -> CardState:
        from terminal.wallet.operations import CardState, history_items

        assert tap.header is not None
        records = [r for r, _ in tap.records]
        return CardState(uid=tap.uid, card_id=tap.header.card_id, product=tap.product, record=records[0],
                         history=history_items(records), resolved=tuple(tap.resolved))
