"""Sync status on the screens and the sales limit, on the demo terminal (no collector) with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.ui.conftest import DemoServer


def at(demo: DemoServer, moment: datetime) -> None:
    demo.kiosk.sync_panel.now = lambda: moment


def cart_and_charge(c: httpx.Client, request_id: str) -> httpx.Response:
    assert c.post("/api/cart/add", json={"sku": "BEER"}).status_code == 200
    return c.post("/api/charge", json={"request_id": request_id})


def limit(demo: DemoServer, days: float) -> None:
    config = demo.kiosk.sync.config
    demo.kiosk.sync.config = config.model_copy(
        update={"collector": config.collector.model_copy(update={"max_days_unsynced": days})})


def test_no_limit_by_default_and_status_in_the_state(demo: DemoServer) -> None:
    at(demo, datetime.now(UTC) + timedelta(days=400))
    with demo.client() as c:
        demo.login(c, "1", "1111")
        assert cart_and_charge(c, "r1").json() == {"started": True}
        view = c.get("/api/state").json()["sync"]
    head = demo.kiosk.journal.head()[0]
    assert view["unsynced"] == head > 0  # the demo's set-up entries were never uploaded
    assert view["line"] == f"unsynced {head} · last sync never · clock ✗"
    assert view["collector_text"] == "offline only (USB)" and view["limit_text"] == "no limit"
    assert not view["sales_blocked"] and view["blocked_text"] == ""


def test_limit_refuses_card_and_face_sales_but_not_topups(demo: DemoServer) -> None:
    limit(demo, 1)
    first = datetime.fromisoformat(next(demo.kiosk.journal.entries(limit=1))["time"].replace("Z", "+00:00"))
    with demo.client() as c:
        demo.login(c, "9", "9999")
        at(demo, first + timedelta(hours=20))  # never synced: counted from the first entry, within the limit
        assert cart_and_charge(c, "r1").json() == {"started": True}
        assert c.post("/api/cancel", json={}).status_code == 200

        at(demo, first + timedelta(days=2, hours=3))
        refused = c.post("/api/charge", json={"request_id": "r2"})
        assert refused.status_code == 409
        assert refused.json() == {"code": "sync_needed",
                                  "message": "sync needed before more sales: never synced, first sale 2 days ago"}
        face = c.post("/api/face/start", json={"request_id": "r3"})
        assert face.status_code == 409 and face.json()["code"] == "sync_needed"
        view = c.get("/api/state").json()["sync"]
        assert view["sales_blocked"] and view["blocked_text"] == refused.json()["message"]
        assert view["limit_text"] == "1 days"

        # top-up, balance check and refund still work
        assert c.post("/api/cart/clear").status_code == 200
        assert c.post("/api/start", json={"kind": "topup", "request_id": "t1", "amount": "5",
                                          "method": "cash"}).json() == {"started": True}
        demo.tap("alice")
        assert c.get("/api/state").json()["flow"]["phase"] == "approved"
        assert c.post("/api/dismiss").status_code == 200
        demo.tap("bob")
        assert c.get("/api/state").json()["balance"]["balance"] == 300
        assert c.post("/api/start", json={"kind": "close", "request_id": "x1"}).json() == {"started": True}
        demo.tap("bob")
        assert c.get("/api/state").json()["flow"]["phase"] == "approved"
    assert [e["op"] for e in demo.commits("sale")] == []
    assert len(demo.commits("topup")) == 1 and len(demo.commits("close")) == 1


def test_a_sync_lifts_the_limit_and_the_bundle_setting_overrides_the_config(demo: DemoServer) -> None:
    kiosk = demo.kiosk
    limit(demo, 1)
    synced = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    kiosk.sync.state.acknowledge(kiosk.journal, kiosk.journal.head()[0], now=synced)
    with demo.client() as c:
        demo.login(c, "1", "1111")
        at(demo, synced + timedelta(hours=5))
        assert cart_and_charge(c, "r1").json() == {"started": True}
        assert c.post("/api/cancel", json={}).status_code == 200
        assert c.get("/api/state").json()["sync"]["line"] == "unsynced 0 · last sync 5 h ago · clock ✗"

        at(demo, synced + timedelta(days=1, hours=6))
        refused = c.post("/api/charge", json={"request_id": "r2"})
        assert refused.status_code == 409
        assert refused.json()["message"] == "sync needed before more sales: last sync 1 days ago"

        kiosk.sync.state.set("bundle_settings", {"max_days_unsynced": 3})  # the organizer allows three days
        assert c.post("/api/charge", json={"request_id": "r3"}).json() == {"started": True}
        assert c.get("/api/state").json()["sync"]["limit_text"] == "3 days"


def test_blocked_message_in_the_operators_language(demo: DemoServer) -> None:
    limit(demo, 0.5)
    kiosk = demo.kiosk
    kiosk.sync.state.acknowledge(kiosk.journal, kiosk.journal.head()[0], now=datetime(2030, 1, 1, tzinfo=UTC))
    at(demo, datetime(2030, 1, 4, tzinfo=UTC))
    kiosk.set_language("tr")
    with demo.client() as c:
        demo.login(c, "1", "1111")
        refused = cart_and_charge(c, "r1")
    assert refused.json()["message"] == "satışa devam etmek için senkronizasyon gerekli: son senkronizasyon 3 gün önce"


def test_screens_show_it_and_the_stream_pushes_changes(demo: DemoServer) -> None:
    kiosk = demo.kiosk
    with demo.client() as c:
        demo.login(c, "9", "9999")
        sale = c.get("/sale").text
        assert 'data-testid="sync-line"' in sale and "unsynced " in sale
        admin = c.get("/admin").text
        for label in ("Unsynced entries", "Last sync", "Days since last sync", "Pending erasures",
                      "offline only (USB)", "Sales limit without sync"):
            assert label in admin
        with c.stream("GET", "/api/events") as stream:
            states = (line for line in stream.iter_lines() if line.startswith("data:"))
            first = httpx.Response(200, content=next(states)[5:]).json()["sync"]
            assert first["unsynced"] > 0
            # a sync round (here: the collector acknowledged everything) is pushed without the page asking
            kiosk.sync.state.acknowledge(kiosk.journal, kiosk.journal.head()[0])
            kiosk.sync_panel._round({"batches": 1}, None)
            pushed = httpx.Response(200, content=next(states)[5:]).json()["sync"]
    assert pushed["unsynced"] == 0 and pushed["last_sync_text"] == "just now"
    assert pushed["collector_text"] == "offline only (USB)"


def test_a_round_that_changes_nothing_is_not_pushed(demo: DemoServer) -> None:
    kiosk = demo.kiosk
    kiosk.sync_panel._round(None, None)  # reachable now: pushed
    before = kiosk.events.published
    kiosk.sync_panel._round(None, None)
    assert kiosk.events.published == before
    kiosk.sync.state.acknowledge(kiosk.journal, kiosk.journal.head()[0])
    kiosk.sync_panel._round({"batches": 1}, None)
    assert kiosk.events.published == before + 1
