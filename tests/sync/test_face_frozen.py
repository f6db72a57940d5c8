"""A face account frozen at the collector is declined by name everywhere: the organizer freezes it with the CLI,
the next bundle lists it, and a terminal (online or not) refuses a face sale or top-up on it with `face_frozen`,
moving no money; unfreezing lets it pay again from the next bundle. The books balance throughout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sync.collector.face import authorize, balances
from sync.collector.storage import Store
from sync.collector.summary import summary
from terminal.wallet.face_accounts import CollectorUnreachable, FaceAccounts, FaceDeclined
from tests.sync.test_face_accounts import _sync_bundle, _terminal, _upload

STALLPAY = str(Path(sys.executable).with_name("stallpay"))


def _face(target: str, action: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STALLPAY, "collector", "face", action, "--db", target, *args], capture_output=True,
                          text=True, timeout=120)


def _offline(account: str, amount: int) -> dict:
    raise CollectorUnreachable("no network")


def _declines(accounts: FaceAccounts) -> list[str]:
    return [e["data"]["code"] for e in accounts.journal.entries() if e["op"] == "decline"]


def test_a_frozen_face_account_is_declined_until_unfrozen(tmp_path: Path, store: Store, store_target: str) -> None:
    cashier, keys = _terminal(tmp_path, store, 1, "cashier")
    stall, _ = _terminal(tmp_path, store, 2, "sale")
    desk, bar = FaceAccounts(cashier.journal), FaceAccounts(stall.journal, allowance=3_000)
    desk.topup("g1", 5_000, method="cash", operator="c1")
    _upload(store, cashier)
    for ts in (cashier, stall):
        _sync_bundle(store, ts, keys)
    bar.sale("g1", 1_000, score=0.9, second_factor=None, authorize=_offline)

    frozen = _face(store_target, "freeze", "--account", "g1", "--reason", "guest lost the wristband",
                   "--by", "desk:anna")
    assert frozen.returncode == 0, frozen.stderr
    assert json.loads(frozen.stdout) == {"account_id": "g1", "status": "frozen"}
    again = _face(store_target, "freeze", "--account", "g1")
    assert again.returncode == 1 and "already frozen" in again.stderr
    unknown = _face(store_target, "unfreeze", "--account", "nobody")
    assert unknown.returncode == 1 and "unknown face account nobody" in unknown.stderr
    assert _face(store_target, "freeze", "--account", "bad id!").returncode == 1
    # the collector refuses it online at once; the terminals, from their next bundle, even offline
    assert authorize(store, "g1", 100, terminal_id=2, request_id="frozen-0001") == {
        "approved": False, "reason": "face account is frozen", "available": 0}
    for ts in (cashier, stall):
        applied = _sync_bundle(store, ts, keys)
        assert applied["face_accounts"] == 0
    assert bar.is_frozen("g1") and desk.is_frozen("g1")
    sales_before = [e["seq"] for e in stall.journal.entries() if e["op"] == "sale"]
    with pytest.raises(FaceDeclined, match="frozen"):
        bar.sale("g1", 500, score=0.9, second_factor=None, authorize=_offline)
    with pytest.raises(FaceDeclined, match="frozen"):  # online too: the same words, the same code
        bar.sale("g1", 500, score=0.9, second_factor=None, authorize=lambda a, n: authorize(
            store, a, n, terminal_id=2, request_id="frozen-0002"))
    with pytest.raises(FaceDeclined, match="frozen"):
        desk.topup("g1", 2_000, method="cash", operator="c1")
    assert _declines(bar) == ["face_frozen", "face_frozen"] and _declines(desk) == ["face_frozen"]
    assert [e["seq"] for e in stall.journal.entries() if e["op"] == "sale"] == sales_before
    _upload(store, stall)
    _upload(store, cashier, after=1)
    assert balances(store, ["g1"]) == {"g1": 4_000}  # nothing moved while frozen
    s = summary(store)
    assert s["books_balance"] is True and s["anomalies"] == {}
    audit = [(r["username"], r["action"]) for r in store.query(
        "SELECT username, action FROM audit_log WHERE target = 'face:g1' ORDER BY at")]
    assert audit == [("desk:anna", "face account frozen")]

    thawed = _face(store_target, "unfreeze", "--account", "g1", "--reason", "wristband found")
    assert thawed.returncode == 0 and json.loads(thawed.stdout)["status"] == "active", thawed.stderr
    for ts in (cashier, stall):
        assert _sync_bundle(store, ts, keys)["face_accounts"] == 1
    assert not bar.is_frozen("g1")
    sale = bar.sale("g1", 500, score=0.9, second_factor=None, authorize=_offline)
    assert not sale.online and sale.balance_after == 3_500
    desk.topup("g1", 1_000, method="cash", operator="c1")
    _upload(store, stall)
    _upload(store, cashier)
    assert balances(store, ["g1"]) == {"g1": 4_500}
    s = summary(store)
    assert s["books_balance"] is True and s["anomalies"] == {}
    assert s["face_accounts"]["deposited"] == 6_000 and s["face_accounts"]["spent"] == 1_500


def test_the_support_desk_freezes_and_unfreezes_in_the_back_office(tmp_path: Path, store: Store) -> None:
    from sync.collector.api import create_app
    from sync.collector.auth import set_user
    from sync.collector.bundle import build_bundle
    from sync.collector.face import register_account
    from terminal.config import EventKeys
    from tests.sync.journals import EVENT
    from tests.sync.test_backoffice_face import PASSWORD, _login

    register_account(store, "FA-anna", holder="Anna Petrova")
    for role in ("support", "readonly"):
        set_user(store, role, PASSWORD, role=role)
    keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
    app = create_app(store, keys)
    reader, reader_csrf = _login(app, "readonly")
    assert "Freeze" not in reader.get("/face").text
    assert reader.post("/face/FA-anna/freeze", data={"csrf": reader_csrf}).status_code == 403
    support, csrf = _login(app, "support")
    assert 'action="/face/FA-anna/freeze"' in support.get("/face").text
    assert support.post("/face/FA-anna/freeze", data={"csrf": "forged"}).status_code == 403
    assert support.post("/face/FA-nobody/freeze", data={"csrf": csrf}).status_code == 404
    assert support.post("/face/FA-anna/freeze", data={"csrf": csrf, "reason": "guest called"}).status_code == 303
    assert build_bundle(store, keys)["body"]["face"]["frozen"] == ["FA-anna"]
    again = support.post("/face/FA-anna/freeze", data={"csrf": csrf})
    assert again.status_code == 409 and "already frozen" in again.text
    page = support.get("/face").text
    assert 'action="/face/FA-anna/unfreeze"' in page and "frozen" in page
    assert support.post("/face/FA-anna/unfreeze", data={"csrf": csrf}).status_code == 303
    assert build_bundle(store, keys)["body"]["face"]["frozen"] == []
    audit = [(r["username"], r["action"]) for r in store.query(
        "SELECT username, action FROM audit_log WHERE target = 'face:FA-anna' ORDER BY at")]
    assert audit == [("support", "face account frozen"), ("support", "face account unfrozen")]


def test_a_malformed_frozen_list_freezes_nothing_it_cannot_name(tmp_path: Path, store: Store) -> None:
    from sync.collector.bundle import build_bundle
    from terminal.uplink.bundle_apply import apply_bundle

    stall, keys = _terminal(tmp_path, store, 2, "sale")
    accounts = FaceAccounts(stall.journal)
    for listed, frozen in ((7, False), ({"g1": 1}, False), (["g1", 3, None], True), (None, False)):
        body = build_bundle(store, keys, terminal_id=2)["body"]
        body["face"]["frozen"] = listed
        apply_bundle(stall, body, face_trusted=True)
        assert accounts.is_frozen("g1") is frozen


def test_an_account_with_an_open_refund_request_cannot_be_unfrozen(tmp_path: Path, store: Store,
                                                                   store_target: str) -> None:
    """The guest asked for the money back (the account froze with it): unfreezing would let it be spent and paid
    out too, so the desk is told to reject the request first; after the rejection it unfreezes."""
    from sync.collector.backoffice.face_payouts import freeze, request_face_payout
    from sync.collector.backoffice.payouts import decide

    cashier, _keys = _terminal(tmp_path, store, 1, "cashier")
    FaceAccounts(cashier.journal).topup("g1", 5_000, method="cash", operator="c1")
    _upload(store, cashier)
    asked = request_face_payout(store, "g1", "Anna Guest", "DE89370400440532013000")
    assert asked["amount"] == 5_000 and not freeze(store, "g1")  # frozen by the request already
    refused = _face(store_target, "unfreeze", "--account", "g1")
    assert refused.returncode == 1 and "refund request open" in refused.stderr
    assert store.scalar("SELECT status FROM face_accounts WHERE account_id = 'g1'") == "frozen"
    decide(store, asked["request_id"], approve=False, by="finance")
    assert _face(store_target, "unfreeze", "--account", "g1").returncode == 0
    assert summary(store)["books_balance"]
