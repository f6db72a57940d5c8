"""The StallPay application on a DESFire card: layout, access rights and personalisation.

Implements the wallet's `ValueCard` on `DesfireCard`. Layout of
the event's application (AID from the event, 4 AES keys, key settings 0B:
ChangeKey only with the application master key, which stays changeable;
files created only with it; file directory readable):

    key 0  application master key   personalisation only (random per card, escrowed)
    key 1  credit key               top-up / cashier terminals
    key 2  debit key                vendor (sale) terminals, and cashiers
    key 3  read key                 balance checks

    file 1  identity, standard data, 32 bytes, plain: R free, W/RW/Change key 0
    file 2  purse, value file, MAC: R 2, W 2, RW 1, Change 0; lower limit 0,
            upper limit = the event's maximum balance, limited credit on
            (a vendor's void gives back the last debit, never more)
    file 3  history, cyclic record file, 32-byte records x 11 (10 kept), Full:
            R 3, W 1, RW 2, Change 0

So GetValue/Debit/LimitedCredit need key 2 (or 1), Credit needs key 1 only,
history is written by 1 or 2 and read by 2 or 3, and ChangeKey needs key 0.
"""

from __future__ import annotations

from terminal.nfc import desfire_setup
from terminal.nfc.desfire import (
    FREE,
    FULL,
    MAC,
    PICC,
    PLAIN,
    ApplicationMissing,
    DesfireCard,
    DesfireError,
    access_rights,
)
from terminal.nfc.secure_card import RECORD_BYTES, AlreadyPersonalised, Personalisation, PurseMissing, PurseState

KEY_NO = {"master": 0, "credit": 1, "debit": 2, "read": 3}
KEY_SETTINGS = 0x0B
IDENTITY_FILE, PURSE_FILE, HISTORY_FILE = 1, 2, 3
IDENTITY_BYTES = 32
HISTORY_RECORDS = 11  # one spare for the transaction: 10 records kept
ACCESS = {
    IDENTITY_FILE: access_rights(read=FREE, write=0, read_write=0, change=0),
    PURSE_FILE: access_rights(read=2, write=2, read_write=1, change=0),
    HISTORY_FILE: access_rights(read=3, write=1, read_write=2, change=0),
}
READS_VALUE = frozenset({"credit", "debit"})
READS_HISTORY = frozenset({"debit", "read"})
BOUNDARY = 0xBE
IDENTITY_MAGIC = b"SPDF"
DUPLICATE = 0xDE
INTEGRITY = 0x1E


class DesfirePurse:
    """The wallet's `ValueCard` on a tapped DESFire EV2/EV3."""

    def __init__(self, card: DesfireCard, product: str = "DESFIRE") -> None:
        self.card = card
        self.product = product
        self._selected: bytes | None = None
        self._role: str | None = None

    @property
    def exchanges(self) -> int:
        return self.card.exchanges

    @property
    def uid(self) -> bytes:
        """The UID the reader saw (random per tap on random-UID cards): for telling taps apart, not for keys."""
        return self.card.reader_uid()

    def _select(self, aid: bytes) -> None:
        if self._selected != aid:
            try:
                self.card.select(aid)
            except ApplicationMissing:
                self._selected = None
                raise PurseMissing("no StallPay purse of this event on the card") from None
            self._selected = aid
            self._role = None

    def key_uid(self, aid: bytes) -> bytes:
        uid = self.card.reader_uid()
        if len(uid) == 7:
            return uid
        # Random UID (08xxxxxx): the real one is in the free-read identity file.
        self._select(aid)
        try:
            identity = self.card.read_data(IDENTITY_FILE, 0, IDENTITY_BYTES, PLAIN)
        except DesfireError:
            self._selected = None
            raise PurseMissing("the card's personalisation was not finished") from None
        if identity[:4] != IDENTITY_MAGIC:
            raise PurseMissing("the card's personalisation was not finished")
        return identity[6:13]

    def open(self, aid: bytes, role: str, key: bytes) -> None:
        self._select(aid)
        self.card.authenticate(KEY_NO[role], key)
        self._role = role

    def read_purse(self, history: int = 1) -> PurseState:
        value = self.card.get_value(PURSE_FILE, MAC) if self._role in READS_VALUE else None
        records: list[bytes] = []
        if self._role in READS_HISTORY:
            for n in range(history):
                try:
                    records.append(self.card.read_records(HISTORY_FILE, n, 1, FULL))
                except DesfireError as exc:
                    if exc.code != BOUNDARY:
                        raise
                    self._reopen()
                    break
        return PurseState(value, tuple(records))

    def _reopen(self) -> None:
        """An error answer ended the session on the card: the next command needs a new authentication."""
        self._selected = None
        self._role = None

    def debit(self, amount: int) -> None:
        self.card.debit(PURSE_FILE, amount, MAC)

    def credit(self, amount: int) -> None:
        self.card.credit(PURSE_FILE, amount, MAC)

    def refund_last_debit(self, amount: int) -> None:
        self.card.limited_credit(PURSE_FILE, amount, MAC)

    def append_history(self, record: bytes) -> None:
        if len(record) != RECORD_BYTES:
            raise ValueError(f"a history record is {RECORD_BYTES} bytes")
        self.card.write_record(HISTORY_FILE, record, FULL)

    def commit(self) -> None:
        self.card.commit()

    @property
    def role(self) -> str | None:
        return self._role

    def begin_personalisation(self, aid: bytes) -> bytes:
        """Create the event's application on a blank card and authenticate with its default AMK.

        Returns the real UID (GetCardUID). A card whose application exists with
        the default AMK still (a torn personalisation) has it wiped and made
        again; one whose AMK is already set raises AlreadyPersonalised.
        """
        card = self.card
        card.select(PICC)
        self._selected = self._role = None
        try:
            desfire_setup.create_application(card, aid, KEY_SETTINGS, len(KEY_NO))
        except DesfireError as exc:
            if exc.code != DUPLICATE:
                raise
            card.select(aid)
            try:
                card.authenticate(0, bytes(16))
            except DesfireError:
                raise AlreadyPersonalised("the card's application is already personalised") from None
            desfire_setup.delete_application(card, aid)
            card.select(PICC)
            desfire_setup.create_application(card, aid, KEY_SETTINGS, len(KEY_NO))
        card.select(aid)
        card.authenticate(0, bytes(16))
        return card.get_card_uid()

    def finish_personalisation(self, plan: Personalisation, uid: bytes, master_key: bytes) -> None:
        """Files, identity and per-card keys; the AMK last, as changing it ends the session."""
        card = self.card
        desfire_setup.create_std_file(card, IDENTITY_FILE, PLAIN, ACCESS[IDENTITY_FILE], IDENTITY_BYTES)
        desfire_setup.create_value_file(card, PURSE_FILE, MAC, ACCESS[PURSE_FILE], 0, plan.max_balance, 0, True)
        desfire_setup.create_cyclic_record_file(card, HISTORY_FILE, FULL, ACCESS[HISTORY_FILE], RECORD_BYTES,
                                                HISTORY_RECORDS)
        identity = (plan.identity[:6] + uid + plan.identity[13:]).ljust(IDENTITY_BYTES, b"\x00")
        card.write_data(IDENTITY_FILE, 0, identity[:IDENTITY_BYTES], PLAIN)
        keys = plan.keys(uid)
        for role in ("credit", "debit", "read"):
            card.change_key(KEY_NO[role], keys[role], bytes(16))
        card.change_key(0, master_key, bytes(16))
        self._selected = self._role = None

    def change_role_keys(self, aid: bytes, master_key: bytes, changes: list[tuple[str, bytes, list[bytes]]],
                         version: int = 1) -> None:
        """ChangeKey for each (role, new key, possible current keys) in a session with key 0 (the AMK).

        Each ChangeKey is atomic on the card, so a band pulled away between them holds some roles' keys in the
        new epoch and the rest in the old one; which one a key is in is not readable, so each candidate current
        key is tried in turn (a wrong one fails the cryptogram's CRC, 1E, and ends the session: authenticate
        with key 0 again)."""
        self._select(aid)
        self._role = None
        for role, new, olds in changes:
            for n, old in enumerate(olds):
                if self.card.session is None or self.card.session.key_no != 0:
                    self.card.authenticate(0, master_key)
                try:
                    self.card.change_key(KEY_NO[role], new, old, version)
                    break
                except DesfireError as exc:
                    if exc.code != INTEGRITY or n == len(olds) - 1:
                        raise
        self.card.session = None  # nothing more with key 0 on this tap
        self._selected = None

    def unfinished_uid(self, aid: bytes) -> bytes | None:
        """The real UID of a card whose personalisation was torn (its AMK still the default), else None."""
        try:
            self._selected = self._role = None
            self.card.select(aid)
            self.card.authenticate(0, bytes(16))
            return self.card.get_card_uid()
        except DesfireError:
            return None
        finally:
            self._selected = self._role = None

    def product_name(self) -> str:
        """GetVersion (three exchanges): for personalisation, where the product goes into the identity file."""
        self.product = self.card.get_version()
        self._selected = self._role = None
        return self.product
