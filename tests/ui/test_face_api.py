"""Face pay through the kiosk's HTTP API and the simulator's camera: money moves once, cards never depend on it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from terminal.camera.liveness import LivenessRules
from terminal.commands.demo import FACE_ACCOUNT, FACE_BALANCE, FACE_PHONE
from tests.ui.conftest import DemoServer


def state(c: Any) -> dict:
    return c.get("/api/state").json()


def wait_phase(demo: DemoServer, *phases: str, timeout: float = 15.0) -> dict:
    """Wait for the flow to reach one of `phases`, on the kiosk's own state-change events."""
    done = threading.Event()
    seen: dict = {}
    kiosk = demo.kiosk

    original = kiosk.publish

    def watch() -> None:
        original()
        snap = kiosk.snapshot()
        if snap["flow"]["phase"] in phases:
            seen.update(snap)
            done.set()

    kiosk.publish = watch  # type: ignore[method-assign]
    try:
        snap = kiosk.snapshot()
        if snap["flow"]["phase"] in phases:
            return snap
        assert done.wait(timeout), f"flow stayed in {kiosk.flow.phase.value}, wanted {phases}"
        return seen
    finally:
        kiosk.publish = original  # type: ignore[method-assign]


def face_sales(demo: DemoServer) -> list[dict]:
    return [e for e in demo.commits("sale") if e["card_id"] is None]


def show(c: Any, photo: str, spoof: bool = False) -> None:
    answer = c.post("/sim/api/face", json={"photo": photo, "spoof": spoof})
    assert answer.status_code == 200, answer.text


def test_face_sale_approved_once_with_balance_left(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        s = state(c)
        assert s["face"]["available"] and s["face"]["liveness_off"]
        c.post("/api/cart/add", json={"sku": "BEER"})
        show(c, "obama3.jpg")
        assert c.post("/api/face/start", json={"request_id": "f1"}).json() == {"started": True}
        s = wait_phase(demo, "approved", "declined")
        assert s["flow"]["phase"] == "approved", s["flow"]
        assert s["flow"]["result"]["face_account"] == FACE_ACCOUNT
        assert s["flow"]["result"]["balance_after"] == FACE_BALANCE - 450
        assert s["flow"]["result"]["balance_after_fmt"] == "€45.50"
        # the same request again (double click, reload): not a second charge
        assert c.post("/api/face/start", json={"request_id": "f1"}).json() == {"started": False}
        assert c.post("/api/charge", json={"request_id": "f1"}).json() == {"started": False}
    sales = face_sales(demo)
    assert len(sales) == 1 and sales[0]["amount"] == 450 and sales[0]["data"]["request_id"] == "f1"
    assert sales[0]["data"]["face_account"] == FACE_ACCOUNT and sales[0]["data"]["offline"] is True
    # the journal is the truth: the same request id at the wallet finds the sale instead of charging again
    again = demo.kiosk.face_accounts.sale(FACE_ACCOUNT, 450, score=0.9, second_factor=None, request_id="f1")
    assert again.entry["seq"] == sales[0]["seq"] and len(face_sales(demo)) == 1
    # the decision itself is journaled with its scores, never an image or a template
    decisions = [e for e in demo.kiosk.journal.entries() if e["op"] == "face" and e["phase"] == "info"
                 and e["data"]["event"] == "face_decision"]
    assert decisions and decisions[-1]["data"]["account_id"] == FACE_ACCOUNT
    assert isinstance(decisions[-1]["data"]["score"], float) and decisions[-1]["amount"] == 0
    assert all(len(str(v)) < 100 for v in decisions[-1]["data"].values())


def test_second_factor_phone_digits(demo: DemoServer) -> None:
    demo.kiosk.face.policy = demo.kiosk.face.policy.__class__(threshold=0.4, calibrated=False)
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "WATER"})
        show(c, "obama3.jpg")
        c.post("/api/face/start", json={"request_id": "f2"})
        s = wait_phase(demo, "face_factor", "declined")
        assert s["flow"]["phase"] == "face_factor" and s["face"]["factor_phone"]
        assert c.post("/api/face/digits", json={"digits": "9999"}).status_code == 200
        s = state(c)
        assert s["flow"]["phase"] == "face_factor" and s["face"]["attempts_left"] == 2
        assert "2" in s["face"]["guidance_text"]
        assert c.post("/api/face/digits", json={"digits": "12a"}).status_code == 400
        c.post("/api/face/digits", json={"digits": FACE_PHONE})
        s = state(c)
        assert s["flow"]["phase"] == "approved" and s["flow"]["result"]["balance_after"] == FACE_BALANCE - 200
    assert face_sales(demo)[0]["data"]["second_factor"] == "phone"


def test_second_factor_attempts_are_limited(demo: DemoServer) -> None:
    demo.kiosk.face.policy = demo.kiosk.face.policy.__class__(threshold=0.4, calibrated=False)
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "WATER"})
        show(c, "obama3.jpg")
        c.post("/api/face/start", json={"request_id": "f3"})
        wait_phase(demo, "face_factor")
        for _ in range(3):
            c.post("/api/face/digits", json={"digits": "0000"})
        s = state(c)
        assert s["flow"]["phase"] == "declined" and s["flow"]["result"]["code"] == "face_locked"
        assert s["flow"]["text"]["reason"] == "Face not recognised: pay with your wristband"
    assert face_sales(demo) == []


def test_insufficient_funds_says_what_is_missing(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "TSHIRT"})
        for _ in range(2):
            c.post("/api/cart/add", json={"sku": "TSHIRT"})  # 60.00 > 50.00
        show(c, "obama3.jpg")
        c.post("/api/face/start", json={"request_id": "f4"})
        s = wait_phase(demo, "approved", "declined")
        assert s["flow"]["result"]["code"] == "insufficient_funds"
        assert s["flow"]["text"]["reason"] == "Insufficient funds: balance €50.00, €10.00 missing"
    assert face_sales(demo) == []
    assert [e["data"]["reason"] for e in demo.kiosk.journal.entries() if e["op"] == "decline"] == [
        "insufficient funds"]


def test_over_offline_allowance(demo: DemoServer) -> None:
    demo.kiosk.face_accounts.allowance = 300
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "BEER"})
        show(c, "obama3.jpg")
        c.post("/api/face/start", json={"request_id": "f5"})
        s = wait_phase(demo, "approved", "declined")
        assert s["flow"]["result"]["code"] == "over_allowance"


def test_photo_with_liveness_on_is_refused_after_the_attempts(demo: DemoServer) -> None:
    face = demo.kiosk.face
    face.liveness_rules = LivenessRules(timeout_s=0.4)
    demo.kiosk.face_sale.frame_s = 0  # do not pace the still-photo camera in the test
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "BEER"})
        show(c, "obama3.jpg", spoof=True)
        s = state(c)
        assert not s["face"]["liveness_off"]
        c.post("/api/face/start", json={"request_id": "f6"})
        s = wait_phase(demo, "approved", "declined", timeout=30)
        assert s["flow"]["result"]["code"] == "liveness_failed"
        assert s["flow"]["text"]["reason"] == "Liveness check failed: look at the camera and blink"
    assert face_sales(demo) == []


def test_liveness_off_is_refused_outside_the_demo(demo: DemoServer) -> None:
    from terminal.wiring import open_face

    face = open_face(demo.kiosk.config, demo.kiosk.station.keys, demo=False, pipeline=demo.kiosk.face.pipeline)
    try:
        assert not face.available and not face.liveness_off
        assert "refused outside the demo" in face.status().detail
    finally:
        face.pipeline = None
        face.close()


def test_a_wristband_tap_on_the_camera_screen_pays_by_wristband(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "BEER"})
        show(c, "")  # nobody in front of the camera
        c.post("/api/face/start", json={"request_id": "f7"})
        assert state(c)["flow"]["phase"] == "face"
        demo.tap("alice")
        s = state(c)
        assert s["flow"]["phase"] == "approved" and s["flow"]["result"]["balance_after"] == 5000 - 450
    assert face_sales(demo) == [] and len(demo.commits("sale")) == 1


@pytest.mark.parametrize("source", ["", "/dev/no-such-camera"])
def test_card_sale_works_with_no_camera_or_a_broken_one(demo: DemoServer, source: str) -> None:
    from terminal.camera.frames import CameraState, NoCamera, open_source

    camera = open_source(source)
    assert camera.status().state is CameraState.MISSING
    demo.kiosk.face.source = camera if source else NoCamera()
    with demo.client() as c:
        demo.login(c, "1", "1111")
        assert not state(c)["face"]["available"]
        c.post("/api/cart/add", json={"sku": "BEER"})
        refused = c.post("/api/face/start", json={"request_id": "f8"})
        assert refused.status_code == 409 and refused.json()["code"] == "no_camera"
        assert c.post("/api/charge", json={"request_id": "c1"}).json() == {"started": True}
        demo.tap("alice")
        assert state(c)["flow"]["phase"] == "approved"
    assert len(demo.commits("sale")) == 1


def test_camera_failing_mid_payment_declines_and_cards_still_pay(demo: DemoServer) -> None:
    from terminal.camera.frames import CameraError, FrameSource

    class Broken(FrameSource):
        def read(self):  # type: ignore[no-untyped-def]
            raise CameraError("cable pulled")

    demo.kiosk.face.source = Broken()
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "BEER"})
        c.post("/api/face/start", json={"request_id": "f9"})
        s = wait_phase(demo, "declined")
        assert s["flow"]["result"]["code"] == "face_unavailable" and not s["face"]["available"]
        c.post("/api/dismiss")
        assert c.post("/api/charge", json={"request_id": "c2"}).json() == {"started": True}
        demo.tap("alice")
        assert state(c)["flow"]["phase"] == "approved"


def test_a_frozen_account_is_declined_by_name(demo: DemoServer) -> None:
    demo.kiosk.face_accounts.replace_snapshot({}, as_of_seq=0, issued_at="2026-07-01T10:00:00Z",
                                              frozen=[FACE_ACCOUNT])  # as a bundle listing it under face.frozen
    with demo.client() as c:
        demo.login(c, "1", "1111")
        c.post("/api/cart/add", json={"sku": "BEER"})
        show(c, "obama3.jpg")
        c.post("/api/face/start", json={"request_id": "f-frozen"})
        s = wait_phase(demo, "approved", "declined")
        assert s["flow"]["result"]["code"] == "face_frozen"
        assert s["flow"]["text"]["reason"] == ("This face account is frozen: no payments or top-ups until the "
                                               "organizer unfreezes it")
    assert face_sales(demo) == []
