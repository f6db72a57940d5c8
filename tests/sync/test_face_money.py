"""Face money that balances: a terminal counts its own credits as well as its own debits, a second terminal spends
after both synced (online authorization, then offline within the signed snapshot's allowance), and a face credit
the collector refuses is an anomaly everywhere (summary, ingest, the terminal's sync status)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.collector.face import balances, checkout
from sync.collector.storage import Store
from sync.collector.summary import summary
from terminal.config import PrinterSection
from terminal.printer.journal_receipts import refund_receipt, sale_receipt, topup_receipt
from terminal.printer.language import ReceiptLanguage
from terminal.printer.layout import layout_receipt, paper_for
from terminal.printer.receipt import Header, Receipt
from terminal.wallet.face_accounts import CollectorUnreachable, FaceAccounts, FaceDeclined
from terminal.wallet.face_allowance import BalanceSnapshot, Verdict, plan_face_debit
from tests.sync.test_face_accounts import _sync_bundle, _terminal, _upload

HEADER = Header(vendor="Resort", terminal_id=1)


def _text(receipt: Receipt) -> str:
    return "\n".join(layout_receipt(receipt, paper_for(PrinterSection(width=80)), ReceiptLanguage("en", "UTC")).text())


def _unreachable(account: str, amount: int) -> dict:
    raise CollectorUnreachable("no network")


def test_money_credited_here_is_spendable_here_without_a_snapshot() -> None:
    plan = plan_face_debit(None, [], 1_700, allowance=0, online=False, own_credits=[4_000])
    assert plan.ok_offline and plan.available == 4_000 and plan.allowance_left == 4_000
    assert plan_face_debit(None, [1_700], 2_400, 0, False, [4_000]).verdict is Verdict.INSUFFICIENT
    # the snapshot's money is bounded by the allowance; money credited here is not
    snap = BalanceSnapshot("g", 10_000, 3)
    assert plan_face_debit(snap, [], 1_500, 1_000, False, [600]).ok_offline
    assert plan_face_debit(snap, [], 1_700, 1_000, False, [600]).verdict is Verdict.OVER_ALLOWANCE


def test_a_face_topped_up_at_the_cashier_pays_there_at_once_with_no_collector(tmp_path: Path, store: Store) -> None:
    cashier, keys = _terminal(tmp_path, store, 1, "cashier")
    stall, _ = _terminal(tmp_path, store, 2, "sale")
    here = FaceAccounts(cashier.journal, allowance=0)
    topup = here.topup("g1", 4_000, method="cash", operator="c")
    assert (topup["balance_before"], topup["balance_after"]) == (None, 4_000)
    sale = here.sale("g1", 1_700, score=0.8, second_factor=None, authorize=_unreachable)
    assert not sale.online and sale.entry["balance_after"] == 2_300 and here.balance("g1") == 2_300
    with pytest.raises(FaceDeclined, match="insufficient"):
        here.sale("g1", 2_400, score=0.8, second_factor=None, authorize=_unreachable)
    # money credited here is spent here without asking the collector (which has not seen the top-up yet)
    asked: list[int] = []
    here.sale("g1", 300, score=0.8, second_factor=None, authorize=lambda a, n: asked.append(n) or {})
    assert asked == [] and here.balance("g1") == 2_000
    # the stall knows nothing until both have synced
    assert FaceAccounts(stall.journal, allowance=5_000).plan("g1", 100).verdict is Verdict.NO_SNAPSHOT
    _upload(store, cashier)
    _sync_bundle(store, cashier, keys)
    _sync_bundle(store, stall, keys)
    assert here.balance("g1") == 2_000 and here.local_credit_left("g1") == 0  # the snapshot holds it now
    there = FaceAccounts(stall.journal, allowance=1_500)
    assert there.balance("g1") == 2_000 and there.spendable("g1") == 1_500
    offline = there.sale("g1", 1_200, score=0.8, second_factor=None, authorize=_unreachable)
    assert offline.entry["balance_after"] == 800
    with pytest.raises(FaceDeclined, match="allowance"):
        there.sale("g1", 400, score=0.8, second_factor=None, authorize=_unreachable)
    _upload(store, stall)
    assert balances(store, ["g1"]) == {"g1": 800}
    quote = checkout(store, "g1", by="cashier 1", pay_out_here=False)
    close = here.checkout("g1", quote["refund"])
    _upload(store, cashier, after=topup["seq"])
    s = summary(store)
    assert (s["deposited"], s["spent"], s["refunded"], s["outstanding"]) == (4_000, 3_200, 800, 0)
    assert s["books_balance"] and s["anomalies"] == {}
    # receipts say what happened: paid by face, loaded, refunded; never "card"
    sale_lines = _text(sale_receipt(offline.entry, HEADER))
    assert "Paid by face" in sale_lines and "Paid from card" not in sale_lines and "Card" not in sale_lines
    assert "8.00" in sale_lines.split("Balance after")[1].splitlines()[0]
    loaded = _text(topup_receipt(topup, HEADER, spent_total=0))
    assert "Face account" in loaded and "g1" in loaded and "Spent so far" not in loaded
    assert "face template erased" in _text(refund_receipt(close, HEADER))


def test_a_refused_face_credit_is_an_anomaly_not_a_silence(tmp_path: Path, store: Store) -> None:
    stall, keys = _terminal(tmp_path, store, 2, "sale")
    FaceAccounts(stall.journal).topup("g9", 9_000, method="cash")
    _upload(store, stall)
    s = summary(store)
    assert not s["books_balance"] and s["anomalies"] == {"refused_face_credit": 1}
    applied = _sync_bundle(store, stall, keys)
    assert applied["face_refused_credits"] == 1
    assert stall.state.get("face_refused_credits") == [{"seq": 1, "account_id": "g9", "amount": 9_000}]


def test_a_default_pairing_code_lets_a_cashier_point_credit(tmp_path: Path, store: Store) -> None:
    from sync.collector.enrollment import get_terminal, new_pairing_code, pair

    cashier, _ = _terminal(tmp_path, store, 7, "sale")  # enrolled directly; re-pair fresh ids below
    FaceAccounts(cashier.journal).topup("g5", 500, method="cash")
    assert cashier.requested_role() == "cashier"  # it has taken money for credits
    req = {**cashier.pairing_request(new_pairing_code(store)), "terminal_id": 8, "public_key": "cd" * 32}
    assert req["mode"] == "cashier"
    pair(store, code=req["code"], event_id=req["event_id"], terminal_id=8, public_key=req["public_key"],
         mode=req["mode"])
    assert get_terminal(store, 8)["role"] == "cashier"
    # an auto code never grants admin; a code made for a role pins it, whatever the terminal asks
    pair(store, code=new_pairing_code(store), event_id=req["event_id"], terminal_id=9, public_key="ef" * 32,
         mode="admin")
    pair(store, code=new_pairing_code(store, role="sale"), event_id=req["event_id"], terminal_id=10,
         public_key="ab" * 32, mode="cashier")
    assert (get_terminal(store, 9)["role"], get_terminal(store, 10)["role"]) == ("sale", "sale")
