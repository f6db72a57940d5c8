"""What the balance screen says about a band (HTTP against the demo terminal): holder from the collector's
bundle for a band issued elsewhere, blocked bands labelled with their id and reason, the cap of the band's tier,
each tier's cap on the cashier screen, and "Print statement" for the band shown."""

from __future__ import annotations

from terminal.uplink.card_holders import apply_card_holders
from tests.ui.conftest import DemoServer


def test_balance_screen_labels_and_statement(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        assert c.post("/api/cards/statement", json={}).status_code == 409  # no band shown yet
        page = c.get("/cashier").text
        assert "€250.00 on a wristband (NTAG), €500.00 on a DESFire card" in page
        demo.tap("alice")
        card = c.get("/api/state").json()["balance"]
        assert card["cap_text"] == "Maximum balance on this band: €250.00" and card["status_text"] == ""
        # issued at another cashier: the holder comes with the bundle
        assert apply_card_holders(demo.kiosk.sync.state, {str(card["card_id"]): "Bea Ruiz · 0888 123",
                                                          "x": "ignored", "7": ""}) == 1
        demo.tap("alice")
        assert c.get("/api/state").json()["balance"]["holder"] == "Bea Ruiz · 0888 123"
        printed = c.post("/api/cards/statement", json={})
        assert printed.status_code == 200 and printed.json()["card_id"] == card["card_id"]
        # a blocked band: the refusal, and which band it is and why
        demo.tap("dave")
        blocked = c.get("/api/state").json()["balance"]
        assert blocked["code"] == "blocked" and blocked["printed_id"].startswith("#")
        assert blocked["status_text"] == "Blocked (lost)"
