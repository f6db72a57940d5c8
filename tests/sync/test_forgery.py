"""Forged wristbands, as an attacker would make them: only a vendor terminal's keys.toml (taken from its SD card)
and the project's own modules as a library. Each forgery is caught: refused at a terminal where it can be, and at
the collector as an anomaly of money that hotlists the band, shows the exposure and stops the books balancing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import hotlist, reconcile
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from terminal.config import load_keys
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator.ntag import NtagEmulator
from terminal.nfc.ntag import identify
from terminal.nfc.ntag_purse import COMPACT, READ_PAGES, USER_START, SlotRef
from terminal.uplink.export import batches
from terminal.wallet.keys import card_password
from terminal.wallet.operations import Wallet
from terminal.wallet.purse import U24, Op, Record, encode_header, new_header, seal
from terminal.wallet.roles import Policy
from terminal.wallet.rules import Declined, Limits
from tests.sync.journals import EVENT, Cards, make_terminal
from tests.sync.test_wristbands import MASTER
from tests.sync.test_wristbands import Till as WristbandTill
from tests.wallet.bands import open_band

LIMITS = Limits(max_balance=50_000, max_sale=20_000, ntag_max_balance=25_000, credit_per_day=500_000)
MODES = {1: "cashier", 2: "sale", 3: "sale"}  # as WristbandTill enrolls them


class Till(WristbandTill):
    """A configured terminal (keys.toml on disk) whose wallet runs with the mode it is enrolled in."""

    def __init__(self, tmp: Path, tid: int, store: Store) -> None:
        super().__init__(tmp, tid, store)  # enrolled as cashier (terminal 1) or sale
        self.keys_file = tmp / f"term{tid}" / "keys.toml"
        self.wallet = Wallet(journal=self.ts.journal, master_key=MASTER, event_id=EVENT, terminal_id=tid,
                             limits=LIMITS, policy=Policy(MODES[tid]))

    def sync(self, store: Store) -> None:
        self.upload(store)
        self.fetch_bundle(store)


class Forger:
    """What the stolen keys.toml allows: derive the band's keys and password, seal any record, write it."""

    def __init__(self, keys_file: Path) -> None:
        keys = load_keys(keys_file)
        self.master, self.event = keys.master_key, keys.event_id
        self.reader = EmulatedReader("attacker's reader")

    def forge(self, band: NtagEmulator, *, balance: int, same_seq: bool = False, writer: int = 2,
              new_card_id: int | None = None) -> Record:
        self.reader.place(band)
        try:
            tag = identify(self.reader.wait_for_card(1))
            read = open_band(self.master, self.event, band.uid, tag.read_pages(0, READ_PAGES))
            keys, header, current = read.keys, read.header, read.current
            tag.authenticate(card_password(self.master, band.uid, self.event)[0])
            if new_card_id is not None:  # a fresh identity for a blocked band
                header = new_header(header.product, self.event, new_card_id)
                head = encode_header(keys, band.uid, header)
                for i in range(0, 16, 4):
                    tag.write_page(USER_START + i // 4, head[i: i + 4])
                record = Record(seq=1, balance=balance, spent=0, comp=0, time=current.time, terminal=writer,
                                op=Op.ISSUE)
                ref = SlotRef(COMPACT, 1)
            else:
                seq = current.seq if same_seq else current.seq + 1
                record = Record(seq=seq, balance=balance, spent=current.spent, comp=0, time=current.time + 5,
                                terminal=writer, op=Op.TOPUP)
                ref = read.current_slot if same_seq else read.next_slot()
            sealed = seal(keys, band.uid, header, record, ref.index)
            for i in range(0, len(sealed), 4):
                tag.write_page(ref.page + i // 4, sealed[i: i + 4])
            return record
        finally:
            self.reader.remove()


@pytest.fixture
def event(tmp_path: Path, store: Store) -> tuple[Till, Till, Till, Forger]:
    cashier, grill, bar = (Till(tmp_path, t, store) for t in (1, 2, 3))
    return cashier, grill, bar, Forger(grill.keys_file)


def _band(n: int) -> NtagEmulator:
    return NtagEmulator("NTAG215", uid=bytes([4, 0x66, 0x0F, 0, 0, 0, n]))


def _anomalies(store: Store, card_id: int) -> dict[str, str]:
    return {r["kind"]: r["detail"] for r in store.query("SELECT kind, detail FROM anomalies WHERE card_id = ?",
                                                          [card_id])}


def test_forged_next_sequence_is_gap_until_its_writer_syncs_then_forged(event: tuple, store: Store) -> None:
    cashier, grill, bar, forger = event
    band = _band(1)
    card_id = cashier.tap(band, "issue", 2000).state.card_id
    grill.tap(band, "charge", 500)
    cashier.sync(store)
    forger.forge(band, balance=20_000, writer=2)  # claims the grill wrote it
    assert bar.tap(band, "charge", 1000).balance_after == 19_000  # offline, the bar cannot tell
    bar.sync(store)
    assert set(_anomalies(store, card_id)) == {"gap"}  # the grill has not synced: it may still hold seq 2 and 3
    grill.sync(store)
    found = _anomalies(store, card_id)
    assert "forged" in found and "gap" not in found and "terminal 2" in found["forged"]
    assert dict(hotlist(store))[card_id].startswith("forged")
    books = summary(store)
    assert not books["books_balance"] and books["exposure"] == 19_000 - 500  # ledger: 2000 - 500 - 1000
    bar.sync(store)  # the bundle reaches the stall: the band is refused there now
    with pytest.raises(Declined) as refused:
        bar.tap(band, "charge", 100)
    assert refused.value.code == "blocked"


def test_same_sequence_forgery_is_caught(event: tuple, store: Store) -> None:
    cashier, grill, bar, forger = event
    band = _band(2)
    card_id = cashier.tap(band, "issue", 3000).state.card_id
    forger.forge(band, balance=24_000, same_seq=True, writer=1)
    bar.tap(band, "charge", 4000)
    for till in (cashier, grill, bar):
        till.sync(store)
    assert "balance_jump" in _anomalies(store, card_id) and card_id in dict(hotlist(store))
    books = summary(store)
    # ledger: 3000 - 4000 = -1000 (a negative balance); the band shows 20,000 the ledger does not explain
    assert not books["books_balance"] and (books["exposure"], books["negative_balances"]) == (20_000, 1000)
    assert {"exposure", "negative_balance"} <= set(books["anomalies"])


def test_balance_above_the_maximum_is_refused_on_read_and_reported(event: tuple, store: Store) -> None:
    cashier, grill, bar, forger = event
    band = _band(3)
    card_id = cashier.tap(band, "issue", 1000).state.card_id
    forger.forge(band, balance=U24, writer=1)
    for action, args in (("read", ()), ("charge", (500,))):
        with pytest.raises(Declined) as refused:
            bar.tap(band, action, *args)
        assert refused.value.code in ("over_limit", "blocked")
    declines = [e for e in bar.ts.journal.entries() if e["op"] == "decline"]
    assert declines[0]["data"]["code"] == "over_limit" and declines[0]["balance_before"] == U24
    assert not [e for e in bar.ts.journal.entries() if e["op"] == "sale"]
    for till in (cashier, grill, bar):
        till.sync(store)
    assert "forged" in _anomalies(store, card_id) and card_id in dict(hotlist(store))
    books = summary(store)
    assert not books["books_balance"] and books["exposure"] == U24 - 1000


def test_reforged_after_the_hotlist_is_caught_again(event: tuple, store: Store) -> None:
    cashier, grill, bar, forger = event
    band = _band(4)
    card_id = cashier.tap(band, "issue", 2000).state.card_id
    grill.tap(band, "charge", 100)
    forger.forge(band, balance=15_000, writer=2)
    bar.tap(band, "charge", 1000)
    for till in (cashier, grill, bar):
        till.sync(store)
    assert "forged" in _anomalies(store, card_id)
    # the attacker tries again: the same card id is blocked at the stall ...
    forger.forge(band, balance=15_000, writer=2)
    with pytest.raises(Declined) as refused:
        bar.tap(band, "charge", 100)
    assert refused.value.code == "blocked"
    # ... so the band gets a new identity, which the stall has never heard of
    forger.forge(band, balance=15_000, writer=1, new_card_id=0x0001_7777)
    assert bar.tap(band, "charge", 1000).state.card_id == 0x0001_7777
    for till in (cashier, grill, bar):
        till.sync(store)
    found = _anomalies(store, 0x0001_7777)
    assert "forged" in found and 0x0001_7777 in dict(hotlist(store))
    with pytest.raises(Declined) as refused:
        bar.tap(band, "charge", 100)
    assert refused.value.code == "blocked"
    books = summary(store)
    assert not books["books_balance"] and books["anomalies"]["forged"] >= 2


def test_a_terminals_own_rollback_refusal_reaches_the_collector(event: tuple, store: Store) -> None:
    cashier, grill, _bar, _forger = event
    band = _band(5)
    card_id = cashier.tap(band, "issue", 3000).state.card_id
    image = band.snapshot()
    grill.tap(band, "charge", 1000)
    band.restore(image)  # the guest puts the band back to its richer image
    with pytest.raises(Declined) as refused:
        grill.tap(band, "charge", 1000)
    assert refused.value.code == "rollback"
    grill.sync(store)  # the cashier has not synced: no ledger conflict is visible yet, only the refusal
    assert "rollback" in _anomalies(store, card_id) and dict(hotlist(store))[card_id].startswith("rollback")
    assert not summary(store)["books_balance"]


def test_credit_booked_by_a_sale_terminal_is_flagged(tmp_path: Path, store: Store) -> None:
    """A vendor terminal's own signing key books complimentary credit (a patched wallet): the collector re-checks
    the enrolled role, flags it and hotlists the card, and the books say so."""
    cards = Cards()
    stall = make_terminal(tmp_path, 7, cards, store, role="sale")
    stall.book("issue", 42, 2000, method="comp")
    stall.book("topup", 42, 40_000, method="comp")
    stall.book("sale", 42, 1000)
    for b in batches(stall.journal, stall.key):
        assert ingest_bytes(store, encode(b)).ok
    reconcile(store)
    found = _anomalies(store, 42)
    assert "not_permitted" in found and "enrolled for sales" in found["not_permitted"]
    assert 42 in dict(hotlist(store)) and not summary(store)["books_balance"]


def test_daily_credit_ceiling_at_the_terminal_and_the_collector(tmp_path: Path, store: Store) -> None:
    cashier = Till(tmp_path, 1, store)
    cashier.wallet.limits = Limits(max_balance=50_000, ntag_max_balance=25_000, credit_per_day=30_000)
    cashier.tap(_band(6), "issue", 20_000)
    with pytest.raises(Declined) as refused:
        cashier.tap(_band(7), "issue", 15_000)
    assert refused.value.code == "over_credit_ceiling" and "€100.00 left today" in refused.value.message
    assert cashier.tap(_band(7), "issue", 10_000).balance_after == 10_000
    # a cashier terminal whose wallet was bypassed books more than the event's ceiling in one day
    cards = Cards()
    rogue = make_terminal(tmp_path, 8, cards, store)
    for card in range(100, 125):
        rogue.book("issue", card, 24_000, method="cash")
    for b in batches(rogue.journal, rogue.key):
        assert ingest_bytes(store, encode(b)).ok
    reconcile(store)
    flagged = store.query("SELECT card_id FROM anomalies WHERE kind = 'over_credit_ceiling'")
    assert len(flagged) == 25 - 500_000 // 24_000  # every issue past 500,000 of the day
    assert not summary(store)["books_balance"]
