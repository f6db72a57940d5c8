"""Face accounts in the collector's books, signed snapshots, online authorization with offline fallback,
template upload, erasure through bundles and its confirmation (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.bundle import build_bundle, collector_public_key
from sync.collector.enrollment import enroll
from sync.collector.face import authorize, balances, checkout, erase_account, pending_erasures, upload_template
from sync.collector.ingest import ingest_bytes
from sync.collector.storage import Store, open_store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.bundle import BundleError, encode_bundle
from sync.format.face_keys import seal_template, transport_key
from terminal.config import EventKeys, load_keys
from terminal.uplink.bundle_apply import apply_bundle_bytes
from terminal.uplink.client import CollectorClient
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import TerminalSync, open_terminal
from terminal.wallet.face_accounts import CollectorUnreachable, FaceAccounts, FaceDeclined
from tests.sync.journals import EVENT, configured_terminal


def _terminal(tmp_path: Path, store: Store, tid: int, role: str) -> tuple[TerminalSync, EventKeys]:
    cfg, _ = configured_terminal(tmp_path, tid)
    ts = open_terminal(cfg)
    enroll(store, tid, ts.public_key, role=role, vendor="Grill", face_key=ts.face_key)
    ts.collector_key = collector_public_key(store)
    return ts, load_keys(cfg.parent / "keys.toml")


def _upload(store: Store, ts: TerminalSync, after: int = 0) -> None:
    for b in batches(ts.journal, ts.key, after=after):
        assert ingest_bytes(store, encode(b)).ok


def _sync_bundle(store: Store, ts: TerminalSync, keys: EventKeys) -> dict:
    seen = int(ts.state.get("face_gallery_seen", 0))
    bundle = build_bundle(store, keys, terminal_id=ts.config.terminal.id, gallery_after=seen)
    return apply_bundle_bytes(ts, encode_bundle(bundle))


def _template(seed: int) -> list[float]:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return list(v / np.linalg.norm(v))


def test_face_money_is_in_the_same_books_as_cards(tmp_path: Path, store: Store) -> None:
    cashier, keys = _terminal(tmp_path, store, 1, "cashier")
    stall, _ = _terminal(tmp_path, store, 2, "sale")
    FaceAccounts(cashier.journal).topup("g1", 5000, method="cash", operator="c1")
    _upload(store, cashier)
    _sync_bundle(store, stall, keys)
    pay = FaceAccounts(stall.journal, allowance=3000)
    assert pay.snapshot("g1").balance == 5000
    sale = pay.sale("g1", 1200, score=0.71, second_factor=None)
    assert not sale.online and sale.entry["card_id"] is None
    assert sale.entry["data"] == {"face_account": "g1", "score": 0.71, "second_factor": None, "offline": True}
    with pytest.raises(FaceDeclined, match="allowance"):  # 1200 + 2000 > 3000 offline at this stall
        pay.sale("g1", 2000, score=0.7, second_factor="phone")
    _upload(store, stall)
    assert balances(store, ["g1"]) == {"g1": 3800}
    s = summary(store)
    assert (s["deposited"], s["spent"], s["outstanding"], s["outstanding_face_accounts"]) == (5000, 1200, 3800, 3800)
    assert s["books_balance"] and s["face_accounts"]["accounts"] == 1
    # checkout at the cashier: the collector closes and erases, the cashier journals the refund it pays out
    quote = checkout(store, "g1", by="cashier 1", pay_out_here=False)
    assert quote["refund"] == 3800
    FaceAccounts(cashier.journal).checkout("g1", quote["refund"])
    _upload(store, cashier, after=1)
    s = summary(store)
    assert (s["refunded"], s["outstanding"], s["outstanding_face_accounts"], s["books_balance"]) == (3800, 0, 0, True)
    assert authorize(store, "g1", 100, terminal_id=2, request_id="after-close")["approved"] is False


def test_a_sale_terminal_cannot_credit_a_face_account(tmp_path: Path, store: Store) -> None:
    stall, _ = _terminal(tmp_path, store, 2, "sale")
    FaceAccounts(stall.journal).topup("g9", 9000, method="cash")
    _upload(store, stall)
    assert balances(store, ["g9"]).get("g9", 0) == 0
    s = summary(store)
    assert s["face_accounts"]["refused_credits"] == 1 and not s["books_balance"]


def test_online_authorization_refuses_overspend_across_connections(tmp_path: Path, store: Store,
                                                                   store_target: str) -> None:
    cashier, _ = _terminal(tmp_path, store, 1, "cashier")
    FaceAccounts(cashier.journal).topup("g2", 1000, method="card")
    _upload(store, cashier)
    results: list[dict] = []

    def spend(n: int) -> None:
        own = open_store(store_target)  # its own connection, like a second collector process
        try:
            for i in range(5):
                results.append(authorize(own, "g2", 100, terminal_id=1, request_id=f"req-{n}-{i:04d}"))
        finally:
            own.close()

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["approved"] for r in results) == 10  # 20 tries of 100 on 1000
    assert {r["reason"] for r in results if not r["approved"]} == {"insufficient funds"}
    # a retried request gets its first answer again, and no second hold (which thread won is up to the scheduler)
    first = next(r for r in results if r["approved"])
    again = authorize(store, "g2", 100, terminal_id=1, request_id=first["authorization"].removeprefix("t1-"))
    assert again["approved"] and again["authorization"] == first["authorization"]
    assert again["available_after"] == 0


def test_client_authorizes_online_and_falls_back_to_the_allowance(tmp_path: Path, store: Store) -> None:
    cashier, keys = _terminal(tmp_path, store, 1, "cashier")
    stall, _ = _terminal(tmp_path, store, 2, "sale")
    FaceAccounts(cashier.journal).topup("g3", 2000, method="cash")
    _upload(store, cashier)
    app = create_app(store, keys)
    client = CollectorClient("http://testserver", stall, http=TestClient(app), sleep=lambda s: None)
    client.fetch_bundle()
    pay = FaceAccounts(stall.journal, allowance=500)
    sale = pay.sale("g3", 1500, score=0.8, second_factor=None, authorize=client.face_authorizer())
    assert sale.online and sale.authorization
    with pytest.raises(FaceDeclined, match="insufficient"):
        pay.sale("g3", 600, score=0.8, second_factor=None, authorize=client.face_authorizer())

    def unreachable(account: str, amount: int) -> dict:
        raise CollectorUnreachable("no network")

    # offline: snapshot 2000 minus own 1500 = 500 left, allowance 500 minus 1500 already spent here = 0
    with pytest.raises(FaceDeclined, match="allowance"):
        pay.sale("g3", 100, score=0.8, second_factor=None, authorize=unreachable)
    client.upload()  # the sale entry settles the hold: no double debit
    assert balances(store, ["g3"]) == {"g3": 500}
    assert summary(store)["face_accounts"]["open_holds"] == 0


def test_template_erasure_reaches_terminals_and_is_confirmed(tmp_path: Path, store: Store) -> None:
    cashier, keys = _terminal(tmp_path, store, 1, "cashier")
    stall, _ = _terminal(tmp_path, store, 2, "sale")
    app = create_app(store, keys)
    cash_client = CollectorClient("http://testserver", cashier, http=TestClient(app), sleep=lambda s: None)
    stall_client = CollectorClient("http://testserver", stall, http=TestClient(app), sleep=lambda s: None)
    transported = seal_template(transport_key(keys.master_key, EVENT), EVENT, "g4", _template(4), phone_digits="1234")
    with pytest.raises(Exception, match="does not open"):  # a paired cashier seals for the collector alone
        cash_client.upload_enrollment("g4", transported)
    cashier.learn_collector_box_key(build_bundle(store, keys, terminal_id=1)["body"]["face"]["box_key"])
    sealed = cashier.seal_enrollment("g4", tuple(_template(4)), "1234")
    assert cash_client.upload_enrollment("g4", sealed, holder="Ada")["change_id"] == 1
    with pytest.raises(Exception, match="only cashier"):
        stall_client.upload_enrollment("g5", sealed)
    got = stall_client.fetch_bundle()
    assert got["templates_stored"] == 1 and "g4" in stall.face_pay().gallery
    factors = stall.face_pay().gallery.factors("g4")  # the digits stay at the collector: checked there, online
    assert factors.phone_digits == "" and factors.phone_online
    # a guest asks for erasure at the cashier: gone at the collector at once, on the stall at its next sync
    cash_client.erase_face("g4")
    assert not store.query("SELECT 1 FROM gallery_changes WHERE account_id = 'g4' AND template IS NOT NULL")
    pending = {r["terminal_id"]: r["pending"] for r in pending_erasures(store)}
    assert pending == {1: 1, 2: 1}
    assert stall_client.fetch_bundle()["templates_erased"] == 1 and "g4" not in stall.face_pay().gallery
    assert [e.account_id for e in stall.face_pay().pending_erasure_confirmations()] == ["g4"]
    assert stall_client.upload()["erasures_confirmed"] == 1
    assert stall.face_pay().pending_erasure_confirmations() == []
    assert {r["terminal_id"]: r["pending"] for r in pending_erasures(store)} == {1: 1, 2: 0}
    assert stall_client.fetch_bundle()["templates_erased"] == 0  # not applied twice


def test_confirmation_rides_in_a_usb_batch(tmp_path: Path, store: Store) -> None:
    stall, keys = _terminal(tmp_path, store, 2, "sale")
    upload_template(store, keys.master_key, EVENT, "g6", seal_template(transport_key(keys.master_key, EVENT), EVENT,
                                                                        "g6", _template(6)))
    erase_account(store, "g6", "request", by="organizer")
    _sync_bundle(store, stall, keys)
    FaceAccounts(stall.journal).topup("x", 1, method="cash")  # any entry: the batch carries the status
    status = {**stall.status(), "face_erasures": ["g6"]}
    for b in batches(stall.journal, stall.key, status=status):
        ingest_bytes(store, encode(b))
    assert {r["terminal_id"]: r["pending"] for r in pending_erasures(store)} == {2: 0}
    _sync_bundle(store, stall, keys)  # the bundle says it is stored: confirmed on the terminal
    assert stall.face_pay().pending_erasure_confirmations() == []


def test_face_data_needs_the_collector_signature(tmp_path: Path, store: Store) -> None:
    cashier, keys = _terminal(tmp_path, store, 1, "cashier")
    FaceAccounts(cashier.journal).topup("g7", 700, method="cash")
    _upload(store, cashier)
    bundle = build_bundle(store, keys, terminal_id=1)
    # a terminal holds the master key, so it can make the event signature, but not the collector's
    forged = dict(bundle)
    forged["body"] = {**bundle["body"], "face": {**bundle["body"]["face"], "balances": {"g7": 10**6}}}
    from sync.format.batch import canonical_json
    from sync.format.keys import event_signing_key

    forged["signature"] = event_signing_key(keys.master_key, EVENT).sign(canonical_json(forged["body"])).hex()
    with pytest.raises(BundleError, match="collector key"):
        apply_bundle_bytes(cashier, encode_bundle(forged))
    cashier.collector_key = None  # a terminal paired from a key file: everything but face data
    assert "skipped" in apply_bundle_bytes(cashier, encode_bundle(build_bundle(store, keys, terminal_id=1)))["face"]
    assert FaceAccounts(cashier.journal).snapshot("g7") is None


def test_templates_expire_after_the_event(tmp_path: Path, store: Store) -> None:
    from sync.collector.event import set_setting

    _terminal(tmp_path, store, 2, "sale")
    keys = load_keys(tmp_path / "term2" / "keys.toml")
    set_setting(store, "event_end", 1_000_000)
    set_setting(store, "face_retention_days", 0)
    key = transport_key(keys.master_key, EVENT)
    upload_template(store, keys.master_key, EVENT, "g8", seal_template(key, EVENT, "g8", _template(8)))
    body = build_bundle(store, keys, terminal_id=2)["body"]
    assert [c["action"] for c in body["face"]["gallery"]] == ["erase"]
    with pytest.raises(Exception, match="does not open"):
        upload_template(store, keys.master_key, EVENT, "g9", seal_template(key, EVENT, "other", _template(9)))


def test_collector_cli_erases_checks_out_and_reports_pending(tmp_path: Path, store: Store, store_target: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    from terminal.cli import main

    cashier, keys = _terminal(tmp_path, store, 1, "cashier")
    FaceAccounts(cashier.journal).topup("g10", 2500, method="cash")
    _upload(store, cashier)
    upload_template(store, keys.master_key, EVENT, "g10", seal_template(transport_key(keys.master_key, EVENT), EVENT,
                                                                         "g10", _template(10)))
    assert main(["collector", "face-checkout", "--db", store_target, "--account", "g10"]) == 0
    assert json.loads(capsys.readouterr().out)["refund"] == 2500
    assert main(["collector", "face-checkout", "--db", store_target, "--account", "g10"]) == 1
    assert "already closed" in capsys.readouterr().err
    assert main(["collector", "report", "erasures", "--db", store_target, "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["terminal_id"], r["pending"], r["accounts"]) for r in rows] == [(1, 1, "g10")]
    s = summary(store)
    assert (s["refunded"], s["outstanding"], s["books_balance"]) == (2500, 0, True)
    assert main(["collector", "face-erase", "--db", store_target, "--account", "bad id!"]) == 1


def test_account_ids_are_exactly_their_characters(store: Store) -> None:
    """`$` in the account-id pattern let "F1-guest\\n" through (as a face account, an erasure confirmation)."""
    from sync.collector.face import FaceError, check_account_id, confirmed_by, record_confirmations

    assert check_account_id("F1-guest") == "F1-guest"
    for bad in ("F1-guest\n", "", "x" * 65, "a b", "ä"):
        with pytest.raises(FaceError):
            check_account_id(bad)
    assert record_confirmations(store, 3, ["F1-guest\n", "F2-ok"]) == 1 and confirmed_by(store, 3) == ["F2-ok"]
