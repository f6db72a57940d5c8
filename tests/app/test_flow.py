"""The payment flow's promises, without a card or a browser: one request, one card, never twice."""

from __future__ import annotations

import pytest

from terminal.app import Flow, FlowError, Phase, Request, TapAction


def sale(rid: str = "r1", amount: int = 500) -> Request:
    return Request(id=rid, kind="sale", amount=amount, items=({"sku": "A", "name": "A", "qty": 1,
                                                               "unit_price": amount},))


def test_idle_tap_is_a_balance_check() -> None:
    flow = Flow()
    assert flow.on_tap("aa").action is TapAction.BALANCE
    assert flow.phase is Phase.IDLE


def test_first_card_binds_the_sale_and_later_taps_never_execute_it_again() -> None:
    flow = Flow()
    assert flow.start(sale())
    decision = flow.on_tap("aa")
    assert decision.action is TapAction.EXECUTE and decision.request == sale()
    assert flow.card == "aa" and flow.phase is Phase.PROCESSING
    # a second tap of the same card, or another card, while processing
    assert flow.on_tap("aa").action is TapAction.IGNORE
    assert flow.on_tap("bb").action is TapAction.IGNORE
    flow.approved({"balance_after": 100})
    # the same card again after the result: shown again, never charged
    assert flow.on_tap("aa").action is TapAction.IGNORE
    assert flow.notice == "already_done"
    # another card after the result: its balance
    assert flow.on_tap("bb").action is TapAction.BALANCE


def test_a_finished_request_cannot_be_started_again() -> None:
    flow = Flow()
    flow.start(sale())
    flow.on_tap("aa")
    flow.approved({})
    assert flow.start(sale()) is False  # a page reload re-posting the same sale
    assert flow.phase is Phase.APPROVED
    assert flow.finished("r1") == {"phase": "approved"}


def test_the_same_request_twice_while_waiting_is_one_request() -> None:
    flow = Flow()
    assert flow.start(sale()) is True
    assert flow.start(sale()) is False
    with pytest.raises(FlowError) as err:
        flow.start(sale("r2"))
    assert err.value.code == "busy"


def test_cancel_is_refused_while_writing_and_needs_force_when_unsettled() -> None:
    flow = Flow()
    flow.start(sale())
    flow.on_tap("aa")
    with pytest.raises(FlowError, match="being written"):
        flow.cancel()
    flow.tap_again(intent_seq=7)
    with pytest.raises(FlowError) as err:
        flow.cancel()
    assert err.value.code == "unsettled"
    flow.cancel(force=True)
    assert flow.phase is Phase.IDLE


def test_tap_again_accepts_only_the_bound_card_and_settles_first() -> None:
    flow = Flow()
    flow.start(sale())
    flow.on_tap("aa")
    flow.tap_again(intent_seq=7)
    assert flow.on_tap("bb").action is TapAction.WRONG_CARD
    assert flow.phase is Phase.TAP_AGAIN and flow.notice == "wrong_card"
    decision = flow.on_tap("aa")
    assert decision.action is TapAction.SETTLE and decision.intent_seq == 7


def test_settled_commit_is_approved_and_abort_offers_a_retry() -> None:
    flow = Flow()
    flow.start(sale())
    flow.on_tap("aa")
    flow.tap_again(intent_seq=7)
    flow.on_tap("aa")
    flow.settled(False, {"reason": "not written"})
    assert flow.phase is Phase.RETRY
    assert flow.on_tap("aa").action is TapAction.IGNORE  # a retry is a choice on screen, not a tap
    flow.retry()
    assert flow.phase is Phase.WAITING and flow.card is None
    assert flow.on_tap("aa").action is TapAction.EXECUTE
    flow.tap_again(intent_seq=9)
    flow.on_tap("aa")
    flow.settled(True, {"journal_seq": 10})
    assert flow.phase is Phase.APPROVED and flow.result == {"journal_seq": 10}


def test_read_failure_before_writing_keeps_waiting_for_any_card() -> None:
    flow = Flow()
    flow.start(sale())
    flow.on_tap("aa")
    flow.read_failed()
    assert flow.phase is Phase.WAITING and flow.card is None and flow.notice == "read_failed"
    assert flow.on_tap("bb").action is TapAction.EXECUTE


def test_results_only_come_while_processing() -> None:
    flow = Flow()
    with pytest.raises(FlowError):
        flow.approved({})
    with pytest.raises(FlowError):
        flow.retry()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"id": "x", "kind": "refund"}, "unknown request kind"),
    ({"id": "", "kind": "sale", "amount": 1}, "needs an id"),
    ({"id": "x", "kind": "sale", "amount": 0}, "amount above zero"),
    ({"id": "x", "kind": "topup", "amount": -5}, "zero or more"),
    ({"id": "x", "kind": "sale", "amount": 1.5}, "whole minor units"),
])
def test_bad_requests_are_refused_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(FlowError, match=message):
        Request(**kwargs)


def test_versions_move_on_every_change_so_screens_can_ignore_stale_events() -> None:
    flow = Flow()
    v0 = flow.version
    flow.start(sale())
    flow.on_tap("aa")
    assert flow.version == v0 + 2
    snap = flow.snapshot()
    assert snap["phase"] == "processing" and snap["request"]["amount"] == 500
