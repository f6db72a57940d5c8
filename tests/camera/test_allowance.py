import pytest

from terminal.wallet.face_allowance import BalanceSnapshot, Verdict, available_balance, plan_face_debit

SNAP = BalanceSnapshot("guest-1", balance=10_000, sequence=5)


def test_offline_within_allowance_and_balance():
    plan = plan_face_debit(SNAP, [1_000], 2_000, allowance=5_000, online=False)
    assert plan.ok_offline and plan.available == 9_000 and plan.allowance_left == 4_000


def test_offline_over_allowance():
    assert plan_face_debit(SNAP, [4_000], 1_500, allowance=5_000, online=False).verdict is Verdict.OVER_ALLOWANCE


def test_insufficient_funds():
    snap = BalanceSnapshot("g", 1_000, 1)
    assert plan_face_debit(snap, [800], 300, allowance=5_000, online=False).verdict is Verdict.INSUFFICIENT


def test_online_authorizes_at_collector_and_unknown_offline():
    assert plan_face_debit(SNAP, [], 100, 0, online=True).verdict is Verdict.AUTHORIZE_ONLINE
    assert plan_face_debit(None, [], 100, 5_000, online=False).verdict is Verdict.NO_SNAPSHOT


def test_bad_amounts():
    with pytest.raises(ValueError):
        plan_face_debit(SNAP, [], 1.5, 100, online=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        plan_face_debit(SNAP, [], 0, 100, online=False)
    with pytest.raises(ValueError):
        available_balance(SNAP, [-1])
