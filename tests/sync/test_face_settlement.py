"""Face money the collector settles after the fact: a checkout done offline pays out only what is certain and
leaves the rest to the collector (paid with `stallpay collector face-checkout`); a top-up the collector refused
(journaled by a sale terminal) is accepted or reversed with `stallpay collector face credits`, which clears the
anomaly and writes the audit log. The CLI runs as a subprocess; the books balance after each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.collector.enrollment import enroll
from sync.collector.face import authorize, balances
from sync.collector.ingest import ingest_bytes
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from terminal.uplink.export import batches
from terminal.uplink.terminal_side import TerminalSync, open_terminal
from terminal.wallet.face_accounts import FaceAccounts
from tests.sync.journals import configured_terminal

STALLPAY = str(Path(sys.executable).with_name("stallpay"))
GUEST = "F1-guest"


def _cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STALLPAY, "collector", args[0], "--db", target, *args[1:]], capture_output=True,
                          text=True, timeout=120) if args[0] != "face" else subprocess.run(
        [STALLPAY, "collector", "face", args[1], *args[2:], "--db", target], capture_output=True, text=True,
        timeout=120)


def _terminal(tmp_path: Path, store: Store, tid: int, role: str) -> TerminalSync:
    cfg, _ = configured_terminal(tmp_path, tid)
    ts = open_terminal(cfg)
    enroll(store, tid, ts.public_key, role=role, vendor="Grill")
    return ts


def _sync(store: Store, ts: TerminalSync, after: int = 0) -> int:
    for b in batches(ts.journal, ts.key, after=after):
        ingest_bytes(store, encode(b))
    return max(e["seq"] for e in ts.journal.entries())


def test_offline_checkout_pays_what_is_certain_and_the_collector_the_rest(tmp_path: Path, store: Store,
                                                                          store_target: str) -> None:
    cashier, bar = _terminal(tmp_path, store, 1, "cashier"), _terminal(tmp_path, store, 2, "sale")
    desk = FaceAccounts(cashier.journal)
    first = desk.topup(GUEST, 5000, method="cash", operator="2")
    synced = _sync(store, cashier)
    desk.replace_snapshot(balances(store, [GUEST]), as_of_seq=synced, issued_at=first["time"])
    # the pool bar spends 40.00 online; the cashier does not hear of it (it is offline from now on)
    FaceAccounts(bar.journal).sale(GUEST, 4000, score=0.9, second_factor=None, authorize=lambda a, amount: authorize(
        store, a, amount, terminal_id=2, request_id="bar-beer-0001"))
    _sync(store, bar)
    desk.topup(GUEST, 1000, method="cash", operator="2")
    FaceAccounts(cashier.journal).sale(GUEST, 300, score=0.9, second_factor=None)
    assert desk.balance(GUEST) == 5700  # the cashier's view: 40.00 of it was spent elsewhere meanwhile
    certain = desk.certain_refund(GUEST)
    assert certain == 700  # credited here since the snapshot and not spent here
    close = desk.checkout(GUEST, certain, operator="2", left_for_collector=5700 - certain)
    assert close["data"]["left_for_collector"] == 5000 and close["amount"] == 700
    _sync(store, cashier, after=synced)
    s = summary(store)
    assert balances(store, [GUEST]) == {GUEST: 1000} and s["face_accounts"]["owed_after_checkout"] == 1000
    assert s["books_balance"] is True and s["face_accounts"]["overdrawn_accounts"] == 0
    paid = _cli(store_target, "face-checkout", "--account", GUEST)
    assert paid.returncode == 0 and json.loads(paid.stdout)["refund"] == 1000, paid.stderr
    s = summary(store)
    assert balances(store, [GUEST]) == {GUEST: 0} and s["face_accounts"]["owed_after_checkout"] == 0
    assert s["books_balance"] is True
    assert _cli(store_target, "face-checkout", "--account", GUEST).returncode != 0  # nothing left to pay


def test_refused_face_credits_are_accepted_or_reversed(tmp_path: Path, store: Store, store_target: str) -> None:
    bar = _terminal(tmp_path, store, 2, "sale")
    pay = FaceAccounts(bar.journal)
    one = pay.topup(GUEST, 2000, method="cash", operator="1")
    two = pay.topup("F1-other", 1500, method="cash", operator="1")
    _sync(store, bar)
    s = summary(store)
    assert s["books_balance"] is False and s["anomalies"]["refused_face_credit"] == 2
    listed = json.loads(_cli(store_target, "face", "credits", "list", "--json").stdout)
    assert [(r["terminal_id"], r["seq"], r["amount"]) for r in listed] == [(2, one["seq"], 2000), (2, two["seq"], 1500)]
    bad = _cli(store_target, "face", "credits", "accept", "--terminal", "2", "--seq", "999")
    assert bad.returncode == 1 and "no refused face credit" in bad.stderr
    accepted = _cli(store_target, "face", "credits", "accept", "--terminal", "2", "--seq", str(one["seq"]),
                    "--by", "ana")
    assert accepted.returncode == 0 and json.loads(accepted.stdout)["decision"] == "accept", accepted.stderr
    assert balances(store, [GUEST]) == {GUEST: 2000}
    reversed_ = _cli(store_target, "face", "credits", "reverse", "--terminal", "2", "--seq", str(two["seq"]))
    assert reversed_.returncode == 0, reversed_.stderr
    assert balances(store, ["F1-other"]) == {"F1-other": 0}
    s = summary(store)
    assert s["books_balance"] is True and "refused_face_credit" not in s["anomalies"], s
    assert s["face_accounts"]["refused_credits"] == 0 and s["face_accounts"]["refunded_at_collector"] == 1500
    audit = store.query("SELECT username, action, target FROM audit_log ORDER BY at")
    assert [(a["username"], a["action"]) for a in audit] == [("ana", "face_credit_accept"),
                                                           ("organizer", "face_credit_reverse")]
    again = _cli(store_target, "face", "credits", "reverse", "--terminal", "2", "--seq", str(two["seq"]))
    assert again.returncode == 1  # decided once


def test_a_face_sale_settles_only_its_own_terminals_authorization(tmp_path: Path, store: Store) -> None:
    """A sale entry named any authorization and the collector settled that hold: a terminal could free another
    terminal's hold on the guest's money before that sale arrived (more to spend online than the account holds), and
    an authorization holding NUL stopped a PostgreSQL ingest."""
    cashier, rogue = _terminal(tmp_path, store, 1, "cashier"), _terminal(tmp_path, store, 3, "sale")
    FaceAccounts(cashier.journal).topup(GUEST, 5000, method="cash", operator="2")
    _sync(store, cashier)
    held = authorize(store, GUEST, 4000, terminal_id=2, request_id="bar-beer-0001")  # the bar's sale: not synced yet
    pay = FaceAccounts(rogue.journal)
    for named in (held["authorization"], "t3-bad\x00auth"):
        pay.sale(GUEST, 100, score=0.9, second_factor=None,
                 authorize=lambda _a, amount, named=named: {"approved": True, "authorization": named, "amount": amount})
    _sync(store, rogue)
    holds = store.query("SELECT auth_id, settled FROM face_ledger WHERE kind = 'hold'")
    assert holds == [{"auth_id": held["authorization"], "settled": 0}]  # the bar's hold still stands
    sales = store.query("SELECT auth_id, amount FROM face_ledger WHERE kind = 'sale' ORDER BY seq")
    assert sales == [{"auth_id": None, "amount": -100}, {"auth_id": None, "amount": -100}]
    assert balances(store, [GUEST]) == {GUEST: 4800} and summary(store)["books_balance"] is True
