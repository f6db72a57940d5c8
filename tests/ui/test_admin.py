"""The admin screen through its API: catalogue, operators, settings, self-test; who may, bad input, restarts."""

from __future__ import annotations

import logging
import threading

import pytest

from terminal import selftest
from terminal.commands.demo import open_demo
from terminal.selftest import Check
from tests.ui.conftest import DemoServer

SUPERVISOR, VENDOR, CASHIER = ("9", "9999"), ("1", "1111"), ("2", "2222")


def test_supervisor_edits_a_price_and_the_next_sale_charges_it(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        answer = c.put("/api/catalogue/BEER", json={"price": "5,20"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["price"] == 520
        demo.login(c, *VENDOR)
        c.post("/api/cart/add", json={"sku": "BEER"})
        c.post("/api/charge", json={"request_id": "r1"})
        demo.tap("alice")
        assert c.get("/api/state").json()["flow"]["result"]["balance_after"] == 5000 - 520
    [sale] = demo.commits("sale")
    assert sale["amount"] == 520


def test_add_edit_remove_a_product(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        added = c.post("/api/catalogue", json={"sku": "TEA", "name": "Tea", "price": "1.80", "category": "Drinks",
                                               "barcode": "4006381333948"})
        assert added.status_code == 200, added.text
        assert added.json() == {"sku": "TEA", "name": "Tea", "price": 180, "category": "Drinks",
                                "barcode": "4006381333948"}
        edited = c.put("/api/catalogue/TEA", json={"name": "Green tea", "category": "Hot"}).json()
        assert edited["name"] == "Green tea" and edited["category"] == "Hot" and edited["price"] == 180
        assert c.post("/api/cart/scan", json={"code": "4006381333948"}).status_code == 200  # the scanner knows it
        c.post("/api/cart/clear")
        assert c.delete("/api/catalogue/TEA").status_code == 200
        listed = c.get("/api/catalogue").json()
        assert "TEA" not in [p["sku"] for p in listed["products"]] and listed["source"] == "admin"
        assert c.delete("/api/catalogue/TEA").status_code == 404


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"sku": "X1", "name": "X", "price": "abc"}, 400, "Not a valid amount"),
    ({"sku": "X1", "name": "X", "price": "1.234"}, 400, "Not a valid amount"),
    ({"sku": "X1", "name": "X", "price": "0"}, 400, "more than zero"),
    ({"sku": "X1", "name": "X", "price": "1", "barcode": "4006381333932"}, 400, "EAN-13"),
    ({"sku": "X1", "name": "X", "price": "1", "barcode": "12345"}, 400, "EAN-13"),
    ({"sku": "X1", "name": "  ", "price": "1"}, 400, "name"),
    ({"sku": "bad sku!", "name": "X", "price": "1"}, 400, "product code"),
    ({"sku": "BEER", "name": "Beer again", "price": "1"}, 409, "exists"),
    ({"sku": "X1", "name": "X", "price": "1", "barcode": "4006381333931"}, 409, "already used by BEER"),
    ({"sku": "X1", "name": "X", "price": "1" * 20}, 422, "price"),
])
def test_bad_product_input_gets_a_clear_message(demo: DemoServer, body: dict, status: int, says: str) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        before = c.get("/api/catalogue").json()
        answer = c.post("/api/catalogue", json=body)
        assert answer.status_code == status
        assert says in answer.json()["message"]
        assert c.get("/api/catalogue").json() == before


def test_bad_edit_leaves_the_product_as_it_was(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        assert c.put("/api/catalogue/WATER", json={"barcode": "5901234123458"}).status_code == 400
        assert c.put("/api/catalogue/WATER", json={"price": "-2"}).status_code == 400
        assert c.put("/api/catalogue/NOPE", json={"price": "2"}).status_code == 404
    water = demo.kiosk.catalogue.get("WATER")
    assert water is not None and water.price == 200 and water.barcode == "5901234123457"


@pytest.mark.parametrize("who", [VENDOR, CASHIER])
def test_vendor_and_cashier_cannot_edit_anything(demo: DemoServer, who: tuple[str, str]) -> None:
    with demo.client() as c:
        demo.login(c, *who)
        refused = [
            c.post("/api/catalogue", json={"sku": "X1", "name": "X", "price": "1"}),
            c.put("/api/catalogue/BEER", json={"price": "0.01"}),
            c.delete("/api/catalogue/BEER"),
            c.post("/api/operators", json={"id": "7", "name": "N", "role": "supervisor", "pin": "7777"}),
            c.delete("/api/operators/9"),
            c.post("/api/operators/9/pin", json={"pin": "1234"}),
            c.post("/api/operators/1/unlock"),
            c.get("/api/operators"),
            c.post("/api/mode", json={"value": "cashier"}),
            c.post("/api/receipt-policy", json={"value": "on_request"}),
            c.post("/api/language", json={"value": "tr"}),
            c.post("/api/selftest"),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        assert {r.json()["code"] for r in refused} == {"not_permitted"}
        assert c.get("/admin").status_code == 200  # they may look
    assert demo.kiosk.catalogue.get("BEER").price == 450
    assert [op.id for op in demo.kiosk.operators.all()] == ["1", "2", "9"]
    assert (demo.kiosk.mode, demo.kiosk.receipt_policy, demo.kiosk.language) == ("sale", "always", "en")
    assert demo.terminal.admin.selftest_thread is None


def test_not_logged_in_cannot_edit(demo: DemoServer) -> None:
    with demo.client() as c:
        assert c.put("/api/catalogue/BEER", json={"price": "1"}).status_code == 401
        assert c.post("/api/operators/9/pin", json={"pin": "1234"}).status_code == 401
        assert c.post("/api/receipt-policy", json={"value": "on_request"}).status_code == 401


def test_operators_added_removed_unlocked_and_pin_reset(demo: DemoServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with demo.client() as c:
        for _ in range(5):
            c.post("/api/login", json={"operator": "1", "pin": "0000"})
        assert c.post("/api/login", json={"operator": "1", "pin": "1111"}).json()["code"] == "locked"
        demo.login(c, *SUPERVISOR)
        assert c.post("/api/operators/1/unlock").status_code == 200
        assert c.post("/api/operators", json={"id": "5", "name": "Ana", "role": "cashier", "pin": "55667788"}
                      ).status_code == 200
        assert c.post("/api/operators/5/pin", json={"pin": "43218765"}).status_code == 200
        listed = c.get("/api/operators").json()
        assert [o["id"] for o in listed] == ["1", "2", "5", "9"]
        assert "pin" not in str(listed).lower().replace("pin_", "")  # no PIN or hash on the screen
        assert c.delete("/api/operators/2").status_code == 200
        assert c.delete("/api/operators/9").json()["code"] == "self"
        assert c.delete("/api/operators/2").status_code == 404
    with demo.client() as c:
        demo.login(c, "1", "1111")  # unlocked
        assert c.post("/api/login", json={"operator": "5", "pin": "55667788"}).status_code == 403
        demo.login(c, "5", "43218765")
        assert c.post("/api/login", json={"operator": "2", "pin": "2222"}).status_code == 403
    logged = caplog.text
    for pin in ("55667788", "43218765"):
        assert pin not in logged


def test_last_supervisor_cannot_be_removed(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        c.post("/api/operators", json={"id": "8", "name": "Deputy", "role": "supervisor", "pin": "8888"})
        demo.login(c, "8", "8888")
        assert c.delete("/api/operators/9").status_code == 200
        c.post("/api/operators", json={"id": "9", "name": "Back", "role": "vendor", "pin": "9999"})
        demo.login(c, "9", "9999")  # now a vendor
        assert c.delete("/api/operators/8").status_code == 403
    with demo.client() as c:
        demo.kiosk.operators.add("7", "Other", "supervisor", "7777")
        demo.login(c, "7", "7777")
        demo.kiosk.operators.remove("8")
        assert c.delete("/api/operators/7").json()["code"] == "self"


@pytest.mark.parametrize(("body", "says"), [
    ({"id": "x y", "name": "N", "role": "vendor", "pin": "1234"}, "operator id"),
    ({"id": "6", "name": "N", "role": "king", "pin": "1234"}, "role"),
    ({"id": "6", "name": "N", "role": "vendor", "pin": "12"}, "PIN is 4 to 8 digits"),
    ({"id": "6", "name": "N", "role": "vendor", "pin": "abcd"}, "PIN is 4 to 8 digits"),
    ({"id": "1", "name": "N", "role": "vendor", "pin": "1234"}, "exists"),
])
def test_bad_operator_input(demo: DemoServer, body: dict, says: str) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        answer = c.post("/api/operators", json=body)
        assert answer.status_code in (400, 409) and says in answer.json()["message"]
        assert body["pin"] not in answer.text
        assert c.post("/api/operators/1/pin", json={"pin": "99"}).json()["code"] == "bad_pin"
        too_long = c.post("/api/operators/1/pin", json={"pin": "12345678901234567"})
        assert too_long.status_code == 422 and "12345678901234567" not in too_long.text  # never echoed


def test_settings_apply_at_once_and_refuse_bad_values(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        assert c.post("/api/receipt-policy", json={"value": "on_request"}).status_code == 200
        assert demo.kiosk.printer.settings.receipt == "on_request"  # the printer follows without a restart
        assert c.post("/api/mode", json={"value": "cashier"}).status_code == 200
        assert c.post("/api/language", json={"value": "bg"}).status_code == 200
        assert c.get("/api/settings").json() == {"mode": "cashier", "language": "bg", "receipt": "on_request"}
        assert c.get("/api/state").json()["receipt_policy"] == "on_request"
        for url, value in (("/api/receipt-policy", "sometimes"), ("/api/mode", "admin"), ("/api/language", "fr")):
            assert c.post(url, json={"value": value}).status_code == 400


def test_on_request_receipt_prints_only_when_asked(demo: DemoServer) -> None:
    printed = threading.Event()
    demo.kiosk.printer.queue.subscribe(lambda event: event.kind == "printed" and printed.set())
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        c.post("/api/receipt-policy", json={"value": "on_request"})
        c.post("/api/cart/add", json={"sku": "WATER"})
        c.post("/api/charge", json={"request_id": "r1"})
        demo.tap("alice")
        demo.kiosk._receipts.submit(lambda: None).result(10)  # the receipt worker has decided
        assert demo.kiosk.last_job is None  # not printed by itself
        answer = c.post("/api/reprint")
        assert answer.status_code == 200 and isinstance(answer.json()["job"], int)
        assert printed.wait(15)


def test_edits_and_settings_survive_a_restart(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        c.put("/api/catalogue/COLA", json={"price": "3.30", "name": "Cola zero"})
        c.delete("/api/catalogue/CAP")
        c.post("/api/operators", json={"id": "6", "name": "New", "role": "vendor", "pin": "6666"})
        c.post("/api/receipt-policy", json={"value": "on_request"})
        c.post("/api/mode", json={"value": "cashier"})
        c.post("/api/language", json={"value": "tr"})
    again = open_demo(demo.dir / "terminal.toml")  # a second start on the same data directory
    try:
        k = again.kiosk
        cola = k.catalogue.get("COLA")
        assert cola is not None and (cola.name, cola.price) == ("Cola zero", 330)
        assert k.catalogue.get("CAP") is None and k.catalogue.get("BEER") is not None  # not re-seeded from TOML
        assert k.operators.login("6", "6666").role.value == "vendor"
        assert (k.mode, k.language, k.receipt_policy) == ("cashier", "tr", "on_request")
        assert k.printer.settings.receipt == "on_request"
    finally:
        again.close()


def test_collector_bundle_replaces_the_catalogue_while_running(demo: DemoServer) -> None:
    from terminal.catalogue_store import CatalogueStore, products_from_bundle

    other = CatalogueStore(demo.dir / "data" / "catalogue.db")  # e.g. the sync process
    bundle = {"Demo Stall": [{"id": "BEER", "name": "Beer", "price": 500}, {"id": "PRETZEL", "name": "Pretzel",
                                                                             "price": 300}],
              "Other Stall": [{"id": "X", "name": "X", "price": 1}]}
    assert other.replace_all(products_from_bundle(bundle, "Demo Stall", other.catalogue())) == 2
    other.close()
    cat = demo.kiosk.catalogue
    assert [(p.sku, p.price) for p in cat.products] == [("BEER", 500), ("PRETZEL", 300)]
    assert cat.get("BEER").barcode == "4006381333931"  # the bundle has no barcodes: kept for the same SKU
    with demo.client() as c:
        demo.login(c, *VENDOR)
        assert c.get("/api/catalogue").json()["source"] == "collector"
        assert c.post("/api/cart/add", json={"sku": "PRETZEL"}).status_code == 200
        assert c.post("/api/cart/add", json={"sku": "WATER"}).status_code == 404


def test_selftest_runs_in_the_background_and_never_blocks_a_sale(demo: DemoServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def slow_collector(config: object, options: object) -> Check:
        release.wait(20)  # a collector that takes its time to answer
        return Check("collector", "fail", "not reachable")

    monkeypatch.setattr(selftest, "CHECKS", (*selftest.CHECKS[:-1], ("collector", slow_collector)))
    admin = demo.terminal.admin
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        assert c.post("/api/selftest").json() == {"started": True}
        assert c.post("/api/selftest").json() == {"started": False}  # one at a time
        assert c.get("/api/selftest").json()["running"] is True
        c.post("/api/cart/add", json={"sku": "WATER"})
        c.post("/api/charge", json={"request_id": "r1"})
        demo.tap("alice")
        assert c.get("/api/state").json()["flow"]["phase"] == "approved"  # while the self-test still runs
        assert not admin.selftest_done.is_set()
        release.set()
        assert admin.selftest_done.wait(20)
        view = c.get("/api/selftest").json()
        assert view["running"] is False and view["passed"] is False
        rows = {r["name"]: r for r in view["checks"]}
        assert list(rows) == ["reader", "printer", "camera", "leds+buzzer", "clock", "disk", "keys", "collector"]
        assert rows["reader"]["result"] == "pass"
        # the demo's camera is its sample photos: the self-test reads one and finds the face
        assert rows["camera"]["result"] == "pass", rows["camera"]
        assert rows["leds+buzzer"]["result"] == "pass" and "mock" in rows["leds+buzzer"]["detail"]
        assert rows["printer"]["result"] == "skip"
        assert rows["collector"]["result"] == "fail" and rows["collector"]["label"] == "Collector"
        assert "Self-test failed" in c.get("/admin").text


def test_selftest_shows_printer_queue_warnings(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "CHECKS", tuple(x for x in selftest.CHECKS if x[0] != "collector"))
    monkeypatch.setattr(demo.kiosk.printer.queue, "pending_count", lambda: 3)
    demo.kiosk.printer_problem = "Printer out of paper"
    admin = demo.terminal.admin
    with demo.client() as c:
        demo.login(c, *SUPERVISOR)
        c.post("/api/selftest")
        assert admin.selftest_done.wait(20)
        rows = {r["name"]: r for r in c.get("/api/selftest").json()["checks"]}
    assert "3 receipt(s) waiting" in rows["printer"]["detail"] and "out of paper" in rows["printer"]["detail"]
