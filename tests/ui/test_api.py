"""The kiosk through its HTTP API and the simulator, without a browser: money moves exactly once."""

from __future__ import annotations

import threading

import pytest

from tests.ui.conftest import DemoServer


def state(c) -> dict:  # type: ignore[no-untyped-def]
    return c.get("/api/state").json()


def sell(demo: DemoServer, c, sku: str = "BEER", request_id: str = "r1") -> None:  # type: ignore[no-untyped-def]
    assert c.post("/api/cart/add", json={"sku": sku}).status_code == 200
    assert c.post("/api/charge", json={"request_id": request_id}).json() == {"started": True}


def test_sale_with_a_tap_and_the_double_tap_charges_once(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c)
        assert state(c)["flow"]["phase"] == "waiting"
        demo.tap("alice")
        s = state(c)
        assert s["flow"]["phase"] == "approved"
        assert s["flow"]["result"]["balance_after"] == 5000 - 450
        assert s["flow"]["result"]["balance_after_fmt"] == "€45.50"
        assert s["cart"]["lines"] == []
        demo.tap("alice")  # the guest taps again
        assert state(c)["flow"]["notice"] == "already_done"
        # the same request posted again (double click / reload) is not a new sale
        assert c.post("/api/charge", json={"request_id": "r1"}).json() == {"started": False}
    assert demo.kiosk.feedback.signals == ["approved"]  # green LED and one beep, once
    sales = demo.commits("sale")
    assert len(sales) == 1 and sales[0]["operator"] == "1" and sales[0]["items"][0]["sku"] == "BEER"


def test_insufficient_funds_says_what_is_missing(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c, "BURGER")
        demo.tap("bob")
        s = state(c)
        assert s["flow"]["phase"] == "declined"
        assert s["flow"]["result"]["code"] == "insufficient_funds"
        assert s["flow"]["text"]["reason"] == "Insufficient funds: balance €3.00, €5.00 missing"
        assert s["cart"]["total"] == 800  # kept for another try
    assert demo.kiosk.feedback.signals == ["declined"]
    assert demo.commits("sale") == []


@pytest.mark.parametrize(("card", "code"), [("dave", "blocked"), ("other", "wrong_event"), ("blank", "blank")])
def test_declines_with_their_reason(demo: DemoServer, card: str, code: str) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c, "WATER")
        demo.tap(card)
        assert state(c)["flow"]["result"]["code"] == code


def test_card_pulled_away_mid_write_is_settled_by_the_same_card(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c)
        demo.tap("alice", tear=4)
        s = state(c)
        assert s["flow"]["phase"] == "tap_again", s["flow"]
        demo.tap("bob")  # another card cannot take over
        assert state(c)["flow"]["notice"] == "wrong_card"
        assert c.post("/api/cancel", json={}).status_code == 409  # cannot walk away from it
        demo.tap("alice")
        s = state(c)
        assert s["flow"]["phase"] in ("approved", "retry")
        if s["flow"]["phase"] == "retry":
            c.post("/api/retry")
            demo.tap("alice")
            assert state(c)["flow"]["phase"] == "approved"
    assert len(demo.commits("sale")) == 1
    assert demo.kiosk.wallet.pending() == []


def test_void_last_sale(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c)
        demo.tap("alice")
        c.post("/api/dismiss")
        assert c.post("/api/start", json={"kind": "void", "request_id": "v1"}).status_code == 200
        demo.tap("alice")
        s = state(c)
        assert s["flow"]["phase"] == "approved" and s["flow"]["result"]["balance_after"] == 5000
    assert len(demo.commits("void")) == 1


@pytest.mark.parametrize("method", ["cash", "card", "voucher", "comp"])
def test_topup_with_each_method(demo: DemoServer, method: str) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        c.post("/api/start", json={"kind": "topup", "request_id": "t1", "amount": "10,00", "method": method})
        demo.tap("bob")
        assert state(c)["flow"]["result"]["balance_after"] == 1300
    [entry] = demo.commits("topup")
    assert entry["method"] == method


def test_topup_above_the_maximum_balance_is_declined(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        c.post("/api/start", json={"kind": "topup", "request_id": "t1", "amount": "480", "method": "cash"})
        demo.tap("alice")
        assert state(c)["flow"]["result"]["code"] == "over_max_balance"


def test_close_refunds_own_money_not_complimentary(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        c.post("/api/start", json={"kind": "topup", "request_id": "t1", "amount": "5", "method": "cash"})
        demo.tap("carol")
        c.post("/api/dismiss")
        c.post("/api/start", json={"kind": "close", "request_id": "c1", "method": "cash"})
        demo.tap("carol")
        result = state(c)["flow"]["result"]
        assert result["refund"] == 500 and result["forfeited_comp"] == 2000 and result["balance_after"] == 0


def test_issue_a_new_wristband_with_holder(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        c.post("/api/start", json={"kind": "issue", "request_id": "i1", "amount": "15", "method": "cash",
                                   "holder": "Zeynep", "phone": "+90 555"})
        demo.tap("blank")
        assert state(c)["flow"]["result"]["balance_after"] == 1500
    [entry] = demo.commits("issue")
    assert entry["operator"] == "2"


def test_idle_tap_shows_balance_and_history_without_charging(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        demo.tap("alice")
        s = state(c)
        assert s["flow"]["phase"] == "idle"
        assert s["balance"]["balance"] == 5000 and s["balance"]["history"][0]["op"] == "issue"
    assert demo.commits("sale") == []


def test_roles_limit_what_an_operator_may_do(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        answer = c.post("/api/start", json={"kind": "topup", "request_id": "t1", "amount": "5", "method": "cash"})
        assert answer.status_code == 403 and answer.json()["code"] == "not_permitted"
        assert c.post("/api/mode", json={"value": "cashier"}).status_code == 403
    with demo.client() as c:
        assert c.post("/api/cart/add", json={"sku": "BEER"}).status_code == 401  # not logged in


def test_wrong_pins_lock_the_operator_out(demo: DemoServer) -> None:
    with demo.client() as c:
        for _ in range(4):
            answer = c.post("/api/login", json={"operator": "1", "pin": "0000"})
            assert answer.status_code == 403 and "attempts left" in answer.json()["message"]
        answer = c.post("/api/login", json={"operator": "1", "pin": "0000"})
        assert answer.json()["code"] == "locked"
        assert c.post("/api/login", json={"operator": "1", "pin": "1111"}).json()["code"] == "locked"


def test_barcode_keypad_amount_and_bad_input(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        assert c.post("/api/cart/scan", json={"code": "4006381333931"}).status_code == 200
        assert c.post("/api/cart/amount", json={"amount": "1.25"}).status_code == 200
        assert state(c)["cart"]["total"] == 575
        bad = c.post("/api/cart/amount", json={"amount": "1.234"})
        assert bad.status_code == 400 and "Not a valid amount" in bad.json()["message"]
        assert c.post("/api/cart/scan", json={"code": "123"}).status_code == 404
        assert c.post("/api/cart/add", json={"sku": "NOPE"}).status_code == 404


def test_receipt_png_is_written_for_a_sale(demo: DemoServer) -> None:
    printed = threading.Event()
    demo.kiosk.printer.queue.subscribe(lambda event: event.kind == "printed" and printed.set())
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c)
        demo.tap("alice")
        assert printed.wait(15), "the receipt was not printed"
        files = sorted((demo.dir / "data" / "receipts").glob("*.png"))
        assert files and files[-1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert c.get(f"/receipts/{files[-1].name}").headers["content-type"] == "image/png"


def test_events_stream_starts_with_the_current_state(demo: DemoServer) -> None:
    with demo.client() as c, c.stream("GET", "/api/events") as stream:
        lines = stream.iter_lines()
        seen = []
        for line in lines:
            seen.append(line)
            if line.startswith("data:"):
                break
        assert "event: state" in seen


def test_a_screen_timer_closes_only_the_balance_it_showed(demo: DemoServer) -> None:
    """A result timer that fires while the next band's balance is on its way must not close that balance."""
    with demo.client() as c:
        demo.login(c, "1", "1111")
        demo.tap("alice")
        first = state(c)
        assert first["balance"] is not None and first["balance_view"] is not None
        demo.tap("bob")  # the next guest's band, before the screen's timer for alice's balance fires
        second = state(c)
        assert second["balance_view"] != first["balance_view"]
        c.post("/api/dismiss", json={"version": first["flow"]["version"], "balance_view": first["balance_view"]})
        assert state(c)["balance_view"] == second["balance_view"]  # bob's balance stays up
        c.post("/api/dismiss", json={"version": second["flow"]["version"], "balance_view": second["balance_view"]})
        assert state(c)["balance"] is None
        demo.tap("alice")
        assert state(c)["balance"] is not None
        c.post("/api/dismiss")  # the operator's own close button: whatever is shown
        assert state(c)["balance"] is None


def test_an_unexpected_fault_is_a_message_the_kiosk_can_show(demo: DemoServer, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """A bug behind a route (here: the state snapshot raising) was a bare 500 "Internal Server Error": the kiosk
    showed its generic toast and nothing was logged but uvicorn's line."""
    def broken() -> dict:
        raise RuntimeError("secret internals")

    with demo.client() as c:
        assert c.post("/api/language", json={"value": "bg"}).status_code == 200
        monkeypatch.setattr(demo.kiosk, "snapshot", broken)
        answer = c.get("/api/state")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    body = answer.json()
    assert body["code"] == "internal" and body["message"].startswith("Терминалът срещна проблем")
    assert "secret internals" not in answer.text
    logged = [r for r in caplog.records if r.name == "terminal.ui.server"]
    assert logged and logged[0].exc_info and "GET /api/state" in logged[0].getMessage()
