"""Every "code + message" refusal of the terminal is a `Refusal`: one way to answer them all."""

from __future__ import annotations

import pytest

from terminal.app.card_desk import CardDeskError
from terminal.app.flow import FlowError, Request
from terminal.app.permissions import NotPermitted, Permission, require
from terminal.operators import LoginFailed
from terminal.refusal import Refusal
from terminal.wallet.face_accounts import FaceDeclined
from terminal.wallet.rules import Declined, check_amount


@pytest.mark.parametrize("refusal", [
    Declined("insufficient_funds", "not enough money", missing=150),
    FlowError("busy", "another payment is in progress"),
    CardDeskError("unknown_card", "no such card"),
    NotPermitted("vendor", Permission.TOPUP),
    FaceDeclined("offline allowance used up"),
    LoginFailed("wrong operator or PIN"),
    LoginFailed("locked out", locked_for=300),
])
def test_each_refusal_has_a_stable_code_and_a_message(refusal: Refusal) -> None:
    assert isinstance(refusal, Refusal)
    assert refusal.code and refusal.message == str(refusal)
    assert refusal.as_dict() == {"code": refusal.code, "message": refusal.message}


def test_codes_of_refusals_raised_by_the_rules() -> None:
    with pytest.raises(Refusal) as declined:
        check_amount(True)
    assert declined.value.code == "invalid_amount"
    with pytest.raises(Refusal) as flow:
        Request(id="r1", kind="sale", amount=-1)
    assert flow.value.code == "bad_request"
    with pytest.raises(Refusal) as role:
        require("vendor", Permission.TOPUP)
    assert role.value.code == "not_permitted" and "vendor" in role.value.message
    assert LoginFailed("x", locked_for=5).code == "locked_out" and LoginFailed("x").code == "login_failed"
