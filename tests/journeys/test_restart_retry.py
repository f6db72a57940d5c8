"""Check, then book, across restarts: a sale request re-sent with the same request id after the terminal process
died (SIGKILL right after the result) or was restarted cleanly is recognised from the journal and never charged
again; the band, the journal and the collector's books show one sale."""

from __future__ import annotations

import signal
from typing import Any

from tests.journeys.conftest import Terminal, books_balance

REQUEST_ID = "restart-retry-sale-1"
BEER = 450


def _login(stall: Terminal) -> None:
    answer = stall.http.post("/api/login", json={"operator": "1", "pin": "1111"})
    assert answer.status_code == 200, answer.text


def _send_sale(stall: Terminal) -> Any:
    """The screen's sale request: one beer in the cart, then the charge with the request id."""
    assert stall.http.post("/api/cart/add", json={"sku": "BEER"}).status_code == 200
    answer = stall.http.post("/api/charge", json={"request_id": REQUEST_ID})
    assert answer.status_code == 200, answer.text
    return answer.json()["started"]


def _balance(stall: Terminal) -> int:
    """Alice's balance as her band says, read by a tap at idle."""
    stall.http.post("/api/dismiss")
    stall.tap("alice")
    state = stall.state()
    assert state["flow"]["phase"] == "idle", state["flow"]
    return int(state["balance"]["balance"])


def _restart(stall: Terminal, how: signal.Signals) -> None:
    assert stall.proc is not None
    stall.proc.send_signal(how)
    stall.proc.wait(timeout=20)
    stall.start()
    _login(stall)


def _sales(stall: Terminal) -> list[dict[str, Any]]:
    return [e for e in stall.journal() if e["op"] == "sale" and e["phase"] == "commit" and e["operator"] != "setup"]


def test_a_sale_resent_after_a_restart_is_not_charged_again(collector, terminals) -> None:  # type: ignore[no-untyped-def]
    stall = terminals.start(collector, role="cashier", vendor="Beer Stall")
    _login(stall)
    before = _balance(stall)

    assert _send_sale(stall) is True
    stall.tap("alice")
    result = stall.state()["flow"]
    assert result["phase"] == "approved" and result["result"]["balance_after"] == before - BEER

    for how in (signal.SIGKILL, signal.SIGTERM):  # killed right after the result, then a clean restart
        _restart(stall, how)
        assert _send_sale(stall) is False  # the journal knows this request id: nothing is armed
        assert stall.state()["flow"]["phase"] == "idle"
        assert _balance(stall) == before - BEER  # the band was not charged again

    sales = _sales(stall)
    assert len(sales) == 1 and sales[0]["data"]["sale_id"] == REQUEST_ID and sales[0]["amount"] == BEER
    summary = books_balance(collector, stall)
    assert summary["spent"] == BEER
