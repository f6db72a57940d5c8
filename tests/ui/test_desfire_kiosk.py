"""The kiosk selling to a DESFire band (the demo's "erin"): the same flow as on NTAG, the card's own transaction
behind it, a band pulled away during CommitTransaction settled by the same band."""

from __future__ import annotations

from tests.ui.conftest import DemoServer
from tests.ui.test_api import sell, state


def test_sale_on_a_desfire_band_and_a_torn_commit(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        sell(demo, c, "BEER", request_id="d1")
        demo.tap("erin")
        s = state(c)
        assert s["flow"]["phase"] == "approved", s["flow"]
        assert s["flow"]["result"]["balance_after"] == 4000 - 450
        sell(demo, c, "FRIES", request_id="d2")
        demo.tap("erin", tear=8)  # select, authenticate x2, GetValue, ReadRecords, Debit, WriteRecord, Commit
        assert state(c)["flow"]["phase"] == "tap_again"
        demo.tap("erin")
        s = state(c)
        assert s["flow"]["phase"] in ("approved", "retry"), s["flow"]
        if s["flow"]["phase"] == "retry":
            c.post("/api/retry")
            demo.tap("erin")
            s = state(c)
        assert s["flow"]["phase"] == "approved", s["flow"]
    sales = demo.commits("sale")
    assert [e["amount"] for e in sales] == [450, 350]
    assert sales[-1]["balance_after"] == 4000 - 800
    assert demo.kiosk.journal.pending() == []
