"""A stolen vendor terminal, end to end: revoke -> rotate-keys -> another terminal syncs the new epoch -> the band
is re-sealed at its next tap there -> the stolen key file (used with the project's own modules, as an attacker
would) can neither read nor write that band -> the collector's books still balance."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from sync.collector.bundle import build_bundle
from sync.collector.enrollment import enroll, revoke
from sync.collector.ingest import ingest_bytes
from sync.collector.key_epochs import rotate
from sync.collector.ledger import card_balances, reconcile
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.bundle import encode_bundle
from sync.format.face_keys import SealError
from sync.format.key_epochs import open_section
from terminal.config import load_keys
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator.ntag import NtagEmulator
from terminal.nfc.ntag import identify
from terminal.nfc.ntag_purse import COMPACT, READ_PAGES, USER_START, PurseImage, SlotRef
from terminal.uplink.bundle_apply import apply_bundle_bytes
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import open_terminal
from terminal.wallet import epochs
from terminal.wallet.card import CardAuthError
from terminal.wallet.keys import card_password, purse_key
from terminal.wallet.ntag_ops import parse_slots
from terminal.wallet.operations import Wallet
from terminal.wallet.purse import PurseKeys, new_header
from terminal.wallet.roles import Policy
from terminal.wallet.rules import Declined
from tests.sync.journals import EVENT, configured_terminal

MASTER = bytes(range(16))
ROLES = {1: "cashier", 2: "sale", 3: "sale"}


class Till:
    """A configured terminal (terminal.toml + keys.toml), enrolled with its box key as pairing registers it."""

    def __init__(self, tmp: Path, tid: int, store: Store) -> None:
        self.cfg, _ = configured_terminal(tmp, tid, MASTER)
        self.tid = tid
        self.ts = open_terminal(self.cfg)
        self.keys_file = self.cfg.parent / "keys.toml"
        self.reader = EmulatedReader(f"till {tid}")
        enroll(store, tid, self.ts.public_key, role=ROLES[tid], vendor=f"v{tid}", face_key=self.ts.face_key)
        self.open_wallet()

    def open_wallet(self) -> None:
        keys = load_keys(self.keys_file, EVENT)
        self.wallet = Wallet(journal=self.ts.journal, master_key=keys.master_key, event_id=EVENT,
                             terminal_id=self.tid, policy=Policy(ROLES[self.tid]), band_keys=epochs.BandKeys.of(keys))

    def tap(self, card: NtagEmulator, action: str, *args: Any, **kwargs: Any) -> Any:
        self.reader.place(card)
        try:
            return getattr(self.wallet, action)(identify(self.reader.wait_for_card(1)), *args, **kwargs)
        finally:
            self.reader.remove()

    def sync(self, store: Store) -> dict:
        for b in batches(self.ts.journal, self.ts.key, after=self.ts.state.acked_seq):
            assert ingest_bytes(store, encode(b)).ok
        reconcile(store)
        bundle = build_bundle(store, load_keys(self.keys_file), terminal_id=self.tid)
        self.ts.collector_key = bundle["collector_key"]  # as pairing by code leaves it
        applied = apply_bundle_bytes(self.ts, encode_bundle(bundle))
        self.open_wallet()  # the running kiosk re-opens its wallet after a bundle that changed the keys
        return applied


def _attacker_reads_and_writes(stolen: Path, band: NtagEmulator) -> list[str]:
    """Everything the stolen key file tries on the band; each refusal's name."""
    keys = load_keys(stolen)
    reader = EmulatedReader("attacker's reader")
    refused = []
    reader.place(band)
    tag = identify(reader.wait_for_card(1))
    raw = tag.read_pages(0, READ_PAGES)
    pk = PurseKeys(purse_key(keys.master_key, band.uid, keys.event_id))
    # the records, whatever header the attacker assumes
    assumed = new_header("NTAG215", keys.event_id, int.from_bytes(raw[24:28], "big"))
    records, _invalid = parse_slots(pk, assumed, PurseImage(band.uid, raw), "NTAG215")
    if not records:
        refused.append("records")
    try:
        tag.authenticate(card_password(keys.master_key, band.uid, keys.event_id)[0])
    except CardAuthError:
        refused.append("password")
    reader.remove()
    reader.place(band)
    tag = identify(reader.wait_for_card(1))
    try:
        tag.write_page(SlotRef(COMPACT, 1).page, b"\xff\xff\xff\xff")
    except CardAuthError:
        refused.append("write")
    reader.remove()
    return refused


def test_stolen_terminal_revoked_rotated_band_resealed(tmp_path: Path, store: Store) -> None:
    cashier, grill, stolen = (Till(tmp_path, t, store) for t in (1, 2, 3))
    band = NtagEmulator("NTAG215", uid=bytes([4, 0x51, 0x7A, 9, 9, 9, 1]))
    card_id = cashier.tap(band, "issue", 5000, method="cash").state.card_id
    stolen.tap(band, "charge", 500)
    for t in (cashier, grill, stolen):
        t.sync(store)
    assert summary(store)["books_balance"]

    # the stall's SD card walks away; the organizer revokes the terminal and rotates the keys
    loot = tmp_path / "stolen-keys.toml"
    shutil.copy(stolen.keys_file, loot)
    revoke(store, 3)
    rotated = rotate(store, reason="terminal 3 stolen", grace_hours=24)
    assert rotated["epoch"] == 1 and rotated["revoked_terminals"] == [3] and rotated["cannot_receive"] == []
    revoked_bundle = build_bundle(store, load_keys(stolen.keys_file), terminal_id=3)["body"]["key_epoch"]
    assert "sealed" not in revoked_bundle  # nothing for the revoked terminal

    # the grill syncs and gets epoch 1, sealed for it alone; its key file stays 0600
    assert grill.sync(store)["key_epoch"] == 1
    assert stat.S_IMODE(grill.keys_file.stat().st_mode) == 0o600
    assert load_keys(grill.keys_file).epoch == 1 and load_keys(grill.keys_file).master_key == MASTER
    for_cashier = build_bundle(store, load_keys(grill.keys_file), terminal_id=1)["body"]
    with pytest.raises(SealError, match="does not open"):  # the cashier's copy does not open with the grill's key
        open_section(grill.ts.box, for_cashier["face"]["box_key"], EVENT, 1, for_cashier["key_epoch"])

    # a band of epoch 0 is still read; its next sale at the grill moves it to epoch 1
    assert grill.tap(band, "read").balance == 4500
    sale = grill.tap(band, "charge", 700)
    assert sale.balance_after == 3800 and sale.entry["data"].get("record")
    raw = band.snapshot()
    assert epochs.peek(raw[USER_START * 4: USER_START * 4 + 16])[4] == 1

    # the stolen key file opens nothing and writes nothing on the re-sealed band
    assert _attacker_reads_and_writes(loot, band) == ["records", "password", "write"]
    thief = Wallet(journal=stolen.ts.journal, master_key=MASTER, event_id=EVENT, terminal_id=3,
                   policy=Policy("sale"), band_keys=epochs.BandKeys.of(load_keys(loot)))
    stolen.wallet = thief
    with pytest.raises(Declined) as refused:
        stolen.tap(band, "charge", 100)
    assert refused.value.code == "newer_epoch"
    assert band.snapshot() == raw

    # a terminal not yet synced says so; after its sync it tops the band up under epoch 1
    with pytest.raises(Declined) as behind:
        cashier.tap(band, "topup", 1000, method="cash")
    assert behind.value.code == "newer_epoch"
    assert cashier.sync(store)["key_epoch"] == 1
    assert cashier.tap(band, "topup", 1000, method="cash").balance_after == 4800

    for t in (cashier, grill):
        t.sync(store)
    books = summary(store)
    assert books["books_balance"] and books["anomalies"] == {}
    assert books["outstanding"] == 4800
    assert card_balances(store, [card_id]) == {card_id: 4800}


def test_old_epoch_bands_refused_after_the_grace(tmp_path: Path, store: Store) -> None:
    cashier, grill = Till(tmp_path, 1, store), Till(tmp_path, 2, store)
    band = NtagEmulator("NTAG215", uid=bytes([4, 0x51, 0x7A, 9, 9, 9, 2]))
    cashier.tap(band, "issue", 2000, method="cash")
    rotate(store, grace_hours=1)
    grill.sync(store)
    grill.wallet._clock = lambda: load_keys(grill.keys_file).old_until + 1
    with pytest.raises(Declined) as late:
        grill.tap(band, "charge", 100)
    assert late.value.code == "old_epoch"


def test_a_running_wallet_takes_the_new_epoch_without_a_restart(tmp_path: Path, store: Store) -> None:
    """The kiosk opens its wallet once; the background sync writes the new epoch into the key file."""
    from terminal.config import load_config

    till = Till(tmp_path, 2, store)
    config = load_config(till.cfg)
    running = Wallet.open(config, load_keys(till.keys_file, EVENT))
    band = NtagEmulator("NTAG215", uid=bytes([4, 0x51, 0x7A, 9, 9, 9, 3]))
    Till(tmp_path, 1, store).tap(band, "issue", 1000, method="cash")
    rotate(store)
    assert till.sync(store)["key_epoch"] == 1
    till.reader.place(band)
    try:
        assert running.charge(identify(till.reader.wait_for_card(1)), 100).balance_after == 900
    finally:
        till.reader.remove()
    assert epochs.peek(band.snapshot()[USER_START * 4: USER_START * 4 + 16])[4] == 1
