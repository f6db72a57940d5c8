"""Check, then book: `plan` has no side effect, refusals are journaled in one shape, and `book` finds a sale's
request id in the journal (persisted), also after a torn write and a restart, so it never charges twice."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from terminal.app.booking import Booked, Booking
from terminal.app.card_desk import CardDesk
from terminal.app.flow import Request
from terminal.wallet.card import CardError
from terminal.wallet.operations import TapAgain
from terminal.wallet.roles import Policy
from tests.wallet.conftest import Till, make_till


def _booking(till: Till) -> Booking:
    """A fresh booking over the same journal: what a restarted terminal has (nothing in memory)."""
    return Booking(till.wallet, till.wallet.journal, CardDesk(till.wallet.journal, till.wallet.hotlist))


def _sales(till: Till, request_id: str) -> list[dict]:
    return [e for e in till.wallet.journal.entries() if e["op"] == "sale" and e["phase"] == "commit"
            and e["data"].get("sale_id") == request_id]


def test_plan_writes_nothing_and_refuse_journals_one_decline(tmp_path: Path) -> None:
    till = make_till(tmp_path)
    till.wallet.policy = Policy("sale")
    booking = _booking(till)
    head = till.wallet.journal.head()
    refusal = booking.plan("topup", "cash", "2")
    assert refusal is not None and refusal.code == "not_permitted_mode"
    assert booking.plan("sale", None, "2") is None
    assert till.wallet.journal.head() == head  # the check has no side effect
    booking.refuse("topup", "cash", "2", refusal)
    declines = [e for e in till.wallet.journal.entries() if e["op"] == "decline"]
    assert [(e["data"]["code"], e["data"]["operation"], e["operator"]) for e in declines] == [
        ("not_permitted_mode", "topup", "2")]
    assert declines[0]["data"]["reason"] == refusal.message


def test_a_booked_sale_is_found_in_the_journal_after_a_restart(tmp_path: Path) -> None:
    till = make_till(tmp_path)
    card = till.new_card()
    till.wallet.issue(till.tap(card), 2000, method="cash")
    request = Request(id="sale-1", kind="sale", amount=450, operator="1")
    first = _booking(till).book(till.tap(card), request)
    assert not isinstance(first, Booked) and first.balance_after == 1550
    again = _booking(till).book(till.tap(card), request)  # the same request id, re-sent after a restart
    assert isinstance(again, Booked) and again.entry["seq"] == first.entry["seq"]
    assert again.as_dict()["balance_after"] == 1550 and again.as_dict()["already_booked"] is True
    assert till.wallet.read(till.tap(card)).balance == 1550
    assert len(_sales(till, "sale-1")) == 1


@pytest.mark.parametrize("tear", range(1, 18))
def test_a_torn_sale_resent_after_a_restart_is_charged_exactly_once(tmp_path: Path, tear: int) -> None:
    till = make_till(tmp_path)
    card = till.new_card()
    till.wallet.issue(till.tap(card), 2000, method="cash")
    request = Request(id="torn-1", kind="sale", amount=300, operator="1")
    tag = till.tap(card)
    card.tear_after(tear)
    with contextlib.suppress(TapAgain, CardError):
        _booking(till).book(tag, request)
    card.tear_after(10**9)
    _booking(till).book(till.tap(card), request)  # the restarted terminal, the same request, the same band
    assert till.wallet.read(till.tap(card)).balance == 1700
    assert len(_sales(till, "torn-1")) == 1
    assert not till.wallet.pending()


def test_a_face_topup_resent_after_a_restart_is_credited_once(tmp_path: Path) -> None:
    from terminal.wallet.face_accounts import FaceAccounts

    till = make_till(tmp_path)
    first = FaceAccounts(till.wallet.journal).topup("F1-abc", 2000, method="cash", operator="2", request_id="t-1")
    again = FaceAccounts(till.wallet.journal).topup("F1-abc", 2000, method="cash", operator="2", request_id="t-1")
    assert again["seq"] == first["seq"]
    assert FaceAccounts(till.wallet.journal).balance("F1-abc") == 2000
