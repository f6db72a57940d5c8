"""After the event's dates (from a bundle) the kiosk refuses sales and top-ups, card and face, with `outside_event`
in the terminal's language, and nothing moves; refunds and face checkouts still pay guests back."""

from __future__ import annotations

from datetime import UTC, datetime

from terminal.commands.demo import FACE_ACCOUNT, FACE_BALANCE
from terminal.uplink.bundle_apply import apply_bundle
from tests.ui.conftest import DemoServer
from tests.ui.test_api import sell, state


def _ended_event(demo: DemoServer) -> None:
    """A bundle whose event ended in 2020, from a collector whose clock agrees with ours (so the time is trusted)."""
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    apply_bundle(demo.kiosk.sync, {"issued_at": now, "clock": now, "hotlist": [], "acks": {},
                                   "settings": {"event_window": {"starts": "2020-07-01", "ends": "2020-07-03",
                                                                 "grace_h": 12}}})


def test_after_the_event_sales_and_topups_are_refused_and_refunds_work(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c, "BEER", "before")  # the event's dates are not known yet: sales go on
        demo.tap("alice")
        assert state(c)["flow"]["result"]["balance_after"] == 4550
        c.post("/api/dismiss")
        _ended_event(demo)
        assert c.post("/api/cart/add", json={"sku": "BEER"}).status_code == 200
        for pay in ("/api/charge", "/api/face/start"):  # said before the guest taps or looks at the camera
            answer = c.post(pay, json={"request_id": "after"})
            assert answer.status_code == 403 and answer.json() == {
                "code": "outside_event",
                "message": "Outside the event's dates: no sales or top-ups now, refunds still work"}
            assert state(c)["flow"]["phase"] == "idle"
        demo.tap("alice")  # a tap only shows the balance
        assert state(c)["balance"]["balance"] == 4550
        # a sale armed before the bundle arrived is refused by the wallet at the tap, and nothing moves
        demo.kiosk.sync.state.set("bundle_settings", {})
        sell(demo, c, "BEER", "armed")
        _ended_event(demo)
        demo.tap("alice")
        s = state(c)
        assert s["flow"]["phase"] == "declined" and s["flow"]["result"]["code"] == "outside_event"
        assert s["flow"]["text"]["reason"] == "Outside the event's dates: no sales or top-ups now, refunds still work"
        c.post("/api/cancel")
        c.post("/api/logout")
        demo.login(c, "2", "2222")  # a cashier
        answer = c.post("/api/start", json={"kind": "topup", "request_id": "t1", "amount": "10", "method": "cash"})
        assert answer.status_code == 403 and answer.json()["code"] == "outside_event"
        assert state(c)["flow"]["phase"] == "idle"
        body = {"account_id": FACE_ACCOUNT, "amount": "10.00", "method": "cash", "request_id": "f1"}
        answer = c.post("/api/face/topup", json=body)
        assert answer.status_code == 403 and answer.json()["code"] == "outside_event"
        assert c.get(f"/api/face/accounts/{FACE_ACCOUNT}").json()["balance"] == FACE_BALANCE
        # the guest gets the money back after the event
        assert c.post("/api/start", json={"kind": "close", "request_id": "c1", "method": "cash"}).status_code == 200
        demo.tap("alice")
        result = state(c)["flow"]["result"]
        assert result["refund"] == 4550 and result["balance_after"] == 0
        c.post("/api/dismiss")
        assert c.post("/api/face/checkout", json={"account_id": FACE_ACCOUNT}).status_code == 200
    assert [e["amount"] for e in demo.commits("sale")] == [450]  # only the sale before the bundle
    assert [e for e in demo.commits("topup") if e["operator"] != "setup"] == []
    declines = [e["data"]["code"] for e in demo.kiosk.journal.entries() if e["op"] == "decline"]
    # two refused charges (card and face), the sale refused at the tap, the card top-up, the face top-up
    assert declines.count("outside_event") == 5
    assert len(demo.commits("close")) == 2  # the wristband refund and the face checkout
