"""Key epochs on DESFire bands: a stolen vendor terminal, revoked and rotated; the band moves to the new epoch at
its next cashier tap (the collector releases its escrowed AMK, the cashier ChangeKeys 1-3); the stolen key file's
debit and read keys no longer open it on the card emulator; a vendor that synced sells on it; the books balance.
And a band pulled away at every command of that rotation stays usable."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sync.collector.bundle import build_bundle
from sync.collector.desfire_rekey import ReleaseError, release_master_key
from sync.collector.enrollment import enroll, get_terminal, revoke
from sync.collector.face_gallery import collector_box_public
from sync.collector.ingest import ingest_bytes
from sync.collector.key_epochs import rotate
from sync.collector.ledger import card_balances, reconcile
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.bundle import encode_bundle
from sync.format.event_keys import EventKeys, desfire_for_mode, parse_keys
from sync.format.key_epochs import open_card_amk
from terminal.config import load_keys, new_keys_text, write_config, write_secret_file
from terminal.nfc.desfire import DesfireAccessDenied, DesfireCard
from terminal.nfc.desfire_purse import KEY_NO, DesfirePurse
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import DesfireEmulator
from terminal.uplink.bundle_apply import apply_bundle_bytes
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import open_terminal
from terminal.wallet import epochs
from terminal.wallet.card import CardError, CardRemoved
from terminal.wallet.desfire_keys import card_key, event_aid
from terminal.wallet.operations import TapAgain, Wallet
from terminal.wallet.roles import Policy
from terminal.wallet.rules import Declined
from tests.sync.journals import EVENT

MASTER = bytes(range(16))
ROLES = {1: "cashier", 2: "sale", 3: "sale"}
UID = bytes([4, 0xDE, 0x5F, 1, 2, 3, 4])


class Till:
    """A terminal with its role-limited key file (the event's DESFire keys of its mode), enrolled with its box key."""

    def __init__(self, tmp: Path, tid: int, store: Store, full: EventKeys, full_text: str) -> None:
        import tomllib

        import tomli_w

        d = tmp / f"term{tid}"
        raw = tomllib.loads(full_text)
        raw["desfire"] = desfire_for_mode(full, ROLES[tid])
        write_secret_file(d / "keys.toml", tomli_w.dumps(raw))
        write_config(d / "terminal.toml", {"event": {"id": EVENT, "currency": "EUR"},
                                           "terminal": {"id": tid, "vendor": f"v{tid}", "mode": ROLES[tid]},
                                           "paths": {"data": "data", "keys": "keys.toml"}})
        self.tid, self.store, self.full = tid, store, full
        self.keys_file = d / "keys.toml"
        self.ts = open_terminal(d / "terminal.toml")
        self.reader = EmulatedReader(f"till {tid}")
        enroll(store, tid, self.ts.public_key, role=ROLES[tid], vendor=f"v{tid}", face_key=self.ts.face_key)
        self.released: list[int] = []
        self.open_wallet()

    def release_amk(self, card_id: int) -> bytes | None:
        """What the kiosk's uplink does: ask the collector, open the AMK sealed to this terminal."""
        answer = release_master_key(self.store, self.full, get_terminal(self.store, self.tid) or {}, card_id)
        self.released.append(card_id)
        return open_card_amk(self.ts.box, collector_box_public(self.store), EVENT, self.tid, card_id,
                             int(answer["epoch"]), str(answer["sealed"]))

    def open_wallet(self) -> None:
        keys = load_keys(self.keys_file, EVENT)
        self.wallet = Wallet(journal=self.ts.journal, master_key=keys.master_key, event_id=EVENT, terminal_id=self.tid,
                             policy=Policy(ROLES[self.tid]), band_keys=epochs.BandKeys.of(keys),
                             desfire_keys=keys.desfire, desfire_epochs=keys.desfire_epochs(),
                             release_amk=self.release_amk)

    def tap(self, card: DesfireEmulator, action: str, *args: Any, **kwargs: Any) -> Any:
        self.reader.remove()
        self.reader.place(card)
        self.purse = DesfirePurse(DesfireCard(self.reader.wait_for_card(0)))
        return getattr(self.wallet, action)(self.purse, *args, **kwargs)

    def sync(self) -> dict:
        for b in batches(self.ts.journal, self.ts.key, after=self.ts.state.acked_seq):
            assert ingest_bytes(self.store, encode(b)).ok
        reconcile(self.store)
        bundle = build_bundle(self.store, self.full, terminal_id=self.tid)
        self.ts.collector_key = bundle["collector_key"]
        applied = apply_bundle_bytes(self.ts, encode_bundle(bundle))
        self.open_wallet()
        return applied


def _authenticates(card: DesfireEmulator, role: str, master: bytes) -> bool:
    """Does the card (its own access rules) accept this role key, diversified as a terminal would?"""
    reader = EmulatedReader("attacker's reader")
    reader.place(card)
    raw = DesfireCard(reader.wait_for_card(0))
    raw.select(event_aid(EVENT))
    try:
        raw.authenticate(KEY_NO[role], card_key(master, UID, EVENT))
        return True
    except DesfireAccessDenied:
        return False


def _event(tmp_path: Path, store: Store) -> tuple[Till, Till, Till]:
    text = new_keys_text(EVENT, MASTER)
    full = parse_keys(text, "full keys")
    return tuple(Till(tmp_path, t, store, full, text) for t in (1, 2, 3))  # type: ignore[return-value]


def test_stolen_vendor_revoked_rotated_band_moved_at_cashier(tmp_path: Path, store: Store) -> None:
    cashier, grill, stolen = _event(tmp_path, store)
    band = DesfireEmulator("DESFIRE_EV2", uid=UID)
    card_id = cashier.tap(band, "issue", 5000, method="cash").state.card_id
    stolen.tap(band, "charge", 500)
    for t in (cashier, grill, stolen):
        t.sync()
    loot = tmp_path / "stolen-keys.toml"
    shutil.copy(stolen.keys_file, loot)
    stolen_keys = load_keys(loot)
    assert set(stolen_keys.desfire) == {"debit", "read", "escrow_public"}

    # before the rotation no cashier may be given an AMK for nothing, and a vendor never
    with pytest.raises(ReleaseError, match="never rotated"):
        cashier.release_amk(card_id)
    revoke(store, 3)
    assert rotate(store, reason="terminal 3 stolen")["epoch"] == 1
    with pytest.raises(ReleaseError, match="only an active cashier") as refused:
        grill.release_amk(card_id)
    assert refused.value.status == 403

    # the grill syncs epoch 1: its new DESFire keys are debit and read only
    assert grill.sync()["key_epoch"] == 1
    grill_keys = load_keys(grill.keys_file)
    assert set(grill_keys.epoch_desfire[1]) == {"debit", "read"}
    assert grill_keys.epoch_desfire[1]["debit"] != stolen_keys.desfire["debit"]
    # a band not yet moved is still sold on at the grill (epoch 0 keys, within the grace), without moving it
    assert grill.tap(band, "charge", 300).balance_after == 4200
    old_epoch_sale = grill.purse.exchanges
    assert _authenticates(band, "debit", stolen_keys.desfire["debit"])

    # the cashier syncs and the band's next tap there moves it: the collector releases the AMK (audited)
    assert cashier.sync()["key_epoch"] == 1
    assert set(load_keys(cashier.keys_file).epoch_desfire[1]) == {"credit", "debit", "read"}
    assert cashier.tap(band, "topup", 1000, method="cash").balance_after == 5200
    assert cashier.released == [card_id]
    audit = store.query("SELECT username, action, target FROM audit_log WHERE action = 'release_card_master_key'")
    assert [dict(a) for a in audit] == [{"username": "terminal 1", "action": "release_card_master_key",
                                         "target": f"card {card_id}"}]

    # the card's own access rules: the stolen debit and read keys open nothing; epoch 1's do
    assert not _authenticates(band, "debit", stolen_keys.desfire["debit"])
    assert not _authenticates(band, "read", stolen_keys.desfire["read"])
    assert _authenticates(band, "debit", grill_keys.epoch_desfire[1]["debit"])
    thief = Wallet(journal=stolen.ts.journal, master_key=MASTER, event_id=EVENT, terminal_id=3,
                   policy=Policy("sale"), desfire_keys=stolen_keys.desfire)
    before = band.snapshot()
    with pytest.raises(Declined) as thief_refused:  # the card refuses its debit key: to it, not a band of its event
        thief.charge(DesfirePurse(DesfireCard(_field(band))), 100)
    assert thief_refused.value.code == "blank"
    assert band.snapshot() == before

    # a current-epoch band: the sale at the synced grill stays within 8 card exchanges
    sale = grill.tap(band, "charge", 700)
    assert sale.balance_after == 4500
    assert grill.purse.exchanges <= 8
    assert old_epoch_sale == grill.purse.exchanges + 2  # one failed authentication with the epoch-1 key
    print(f"vendor sale: {grill.purse.exchanges} exchanges (old-epoch band: {old_epoch_sale})")

    for t in (cashier, grill):
        t.sync()
    books = summary(store)
    assert books["books_balance"] and books["anomalies"] == {}
    assert card_balances(store, [card_id]) == {card_id: 4500}


def _field(card: DesfireEmulator) -> Any:
    reader = EmulatedReader("thief's reader")
    reader.place(card)
    return reader.wait_for_card(0)


def test_band_torn_at_every_command_of_its_rotation_stays_usable(tmp_path: Path, store: Store) -> None:
    cashier, grill, stolen = _event(tmp_path, store)
    band = DesfireEmulator("DESFIRE_EV2", uid=UID)
    card_id = cashier.tap(band, "issue", 3000, method="cash").state.card_id
    cashier.sync()
    stolen_keys = load_keys(stolen.keys_file)
    revoke(store, 3)
    rotate(store)
    cashier.sync()
    grill.sync()
    grill_keys = load_keys(grill.keys_file)
    issued = band.snapshot()

    assert cashier.tap(band, "read").balance == 3000
    assert not _authenticates(band, "debit", stolen_keys.desfire["debit"])
    band.restore(issued)
    assert cashier.tap(band, "read").balance == 3000  # an untorn rotation of the same band, to count its commands
    total = cashier.purse.exchanges
    print(f"rotating cashier read: {total} exchanges")
    assert total > 8
    for n in range(1, total + 1):
        for executed in (True, False):
            band.restore(issued)
            band.tear_after(n, executed=executed)
            with pytest.raises((CardError, CardRemoved, TapAgain)):  # every one of its exchanges tears the tap
                cashier.tap(band, "read")
            # whatever landed, the synced vendor reads the band and the next cashier tap finishes the move
            assert grill.tap(band, "read").balance == 3000, (n, executed)
            assert cashier.tap(band, "read").balance == 3000, (n, executed)
            for role in ("debit", "read"):
                assert not _authenticates(band, role, stolen_keys.desfire[role]), (n, executed, role)
                assert _authenticates(band, role, grill_keys.epoch_desfire[1][role]), (n, executed, role)
    assert card_id in cashier.released


def test_amk_release_over_http_cashier_only(tmp_path: Path, store: Store) -> None:
    """The terminal API: the signed request of a cashier gets the AMK sealed to it alone; a vendor gets 403; the
    collector's answer never holds the key in clear."""
    from fastapi.testclient import TestClient

    from sync.collector.api import create_app
    from terminal.uplink.client import CollectorClient, SyncFailed

    cashier, grill, _stolen = _event(tmp_path, store)
    band = DesfireEmulator("DESFIRE_EV2", uid=UID)
    card_id = cashier.tap(band, "issue", 1000, method="cash").state.card_id
    cashier.sync()
    revoke(store, 3)
    rotate(store)
    cashier.sync()
    grill.sync()
    app = create_app(store, cashier.full)
    amk = CollectorClient("http://testserver", cashier.ts, http=TestClient(app)).card_master_key(card_id)
    assert amk == cashier.release_amk(card_id) and len(amk) == 16
    raw = TestClient(app).post(f"/api/v1/terminal/cards/{card_id}/master-key")
    assert raw.status_code == 401  # unsigned
    with pytest.raises(SyncFailed, match="only an active cashier"):
        CollectorClient("http://testserver", grill.ts, http=TestClient(app)).card_master_key(card_id)
    with pytest.raises(SyncFailed, match="no issue of card"):
        CollectorClient("http://testserver", cashier.ts, http=TestClient(app)).card_master_key(card_id + 99)
    # the kiosk's releaser: refused means "not now", and the band stays usable in its old epoch
    assert CollectorClient("http://testserver", grill.ts, http=TestClient(app)).amk_releaser()(card_id) is None


@pytest.mark.parametrize("desfire", [
    '[epochs.desfire.1]\ncredit = "00"',  # short key
    '[epochs.desfire.1]\nescrow_private = "' + "00" * 32 + '"',  # no escrow key in an epoch
    '[epochs.desfire.0]\ndebit = "' + "00" * 16 + '"',  # epoch 0 is [desfire]
    '[epochs.desfire.1]\ndebit = "zz"',
    '[epochs.desfire]\n"1" = 5',
])
def test_hostile_epoch_desfire_sections_are_refused(desfire: str) -> None:
    from sync.format.event_keys import ConfigError

    epochs_toml = '\n[epochs]\ncurrent = 1\n[epochs.band]\n"1" = "' + "11" * 16 + '"\n'
    text = new_keys_text(EVENT, MASTER) + epochs_toml + desfire
    with pytest.raises(ConfigError):
        parse_keys(text, "hostile.toml")
