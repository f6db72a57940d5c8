"""Cashier mode for face accounts: consent first, enrollment, duplicates, top-up, checkout with erasure; and the
terminal's sync wiring (FacePay handed to sync, templates queued for the collector, bundles replacing prices)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from terminal.commands.demo import FACE_ACCOUNT, FACE_BALANCE
from tests.ui.conftest import DemoServer


def show(c: Any, photo: str) -> None:
    assert c.post("/sim/api/face", json={"photo": photo}).status_code == 200


def consent(c: Any, language: str) -> str:
    """The cashier asks; the guest taps "I agree" on the customer display (which holds the display's token)."""
    asked = c.post("/api/face/consent", json={"language": language, "agreed": True}).json()
    assert asked["status"] == "waiting", asked
    found = re.search(r'name="display-token" content="([^"]+)"', c.get("/display").text)
    assert found, "the display page carries no token"
    agreed = c.post("/api/display/consent", json={"account_id": asked["account_id"], "agreed": True},
                    headers={"X-Display-Token": found.group(1)}).json()
    assert agreed["status"] == "agreed", agreed
    return str(asked["account_id"])


def test_enrollment_needs_consent_and_finds_duplicates(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        texts = c.get("/api/face/consent").json()
        assert set(texts) == {"en", "tr", "bg", "zh"} and len(set(texts.values())) == 4
        refused = c.post("/api/face/consent", json={"language": "tr", "agreed": False})
        assert refused.status_code == 400
        # no consent recorded for this account: no capture
        show(c, "biden.jpg")
        answer = c.post("/api/face/enroll", json={"account_id": "F9-nobody"})
        assert answer.status_code == 409 and "customer display" in answer.json()["message"]
        assert "F9-nobody" not in demo.kiosk.face.gallery
        account = consent(c, "tr")
        answer = c.post("/api/face/enroll", json={"account_id": account, "phone_digits": "5678"}).json()
        assert answer["outcome"] == "enrolled", answer
        # this demo terminal was never paired: it holds no collector box key, so nothing is sealed or queued (never
        # with the event's transport key, which every terminal holds); the template stays in its own gallery
        assert answer["collector"] == "kept" and answer["frames_used"] == 3
        assert account in demo.kiosk.face.gallery
        # the same face again under a new account: shown as a duplicate, not enrolled twice
        other = consent(c, "en")
        dup = c.post("/api/face/enroll", json={"account_id": other}).json()
        assert dup["outcome"] == "face already enrolled" and dup["duplicate_of"] == account
        assert dup["text"] == f"This face is already enrolled as {account}"
        assert other not in demo.kiosk.face.gallery
        bad = c.post("/api/face/enroll", json={"account_id": other, "phone_digits": "12"})
        assert bad.status_code == 400
    assert demo.kiosk.sync.pending_face_uploads()["enrollments"] == []
    # once paired (the collector's box key), the upload opens for the collector alone, never with transport keys
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from sync.format.face_keys import SealError, box_key, box_public, open_template, transport_key

    collector = X25519PrivateKey.generate()
    sync = demo.kiosk.sync
    assert sync.learn_collector_box_key(box_public(collector)) and not sync.learn_collector_box_key("zz")
    keys = demo.kiosk.station.keys
    sealed = sync.seal_enrollment(account, (0.1,) * 128, "5678", "04A1B2C3")
    with pytest.raises(SealError):
        open_template(transport_key(keys.master_key, keys.event_id), keys.event_id, account, sealed)
    opened = open_template(box_key(collector, sync.face_key, keys.event_id, demo.kiosk.config.terminal.id, b"up"),
                           keys.event_id, account, sealed)
    assert opened["phone_digits"] == "5678" and opened["wristband_uid"] == "04a1b2c3"
    assert demo.kiosk.sync.face is demo.kiosk.face  # sync works on the app's own FacePay


def test_enrollment_queues_for_the_next_sync_and_flushes(demo: DemoServer) -> None:
    sent: list[tuple[str, str]] = []

    class Collector:
        def upload_enrollment(self, account_id: str, sealed: str, **kw: Any) -> dict:
            sent.append(("enroll", account_id))
            return {}

        def erase_face(self, account_id: str, reason: str = "request") -> dict:
            sent.append(("erase", account_id))
            return {}

    sync = demo.kiosk.sync
    sync.queue_enrollment({"account_id": "F1-a", "template": "00", "expires_at": 1})
    sync.queue_erasure("F1-b", "checkout")
    assert sync.flush_face_uploads(Collector()) == {"enrollments": 1, "erasures": 1}  # type: ignore[arg-type]
    assert sent == [("enroll", "F1-a"), ("erase", "F1-b")]
    assert sync.pending_face_uploads() == {"enrollments": [], "erasures": []}


def test_topup_balance_history_and_checkout_erases(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        a = c.get(f"/api/face/accounts/{FACE_ACCOUNT}").json()
        assert a["balance"] == FACE_BALANCE and a["enrolled"]
        body = {"account_id": FACE_ACCOUNT, "amount": "10.00", "method": "voucher", "request_id": "t1"}
        a = c.post("/api/face/topup", json=body).json()
        assert a["balance"] == FACE_BALANCE + 1000 and a["history"][0]["method"] == "voucher"
        assert c.post("/api/face/topup", json=body).json()["journal_seq"] == a["journal_seq"]  # double click
        bad = c.post("/api/face/topup", json={**body, "method": "gold", "request_id": "t2"})
        assert bad.status_code == 400
        out = c.post("/api/face/checkout", json={"account_id": FACE_ACCOUNT}).json()
        # offline: only the 10.00 credited here is certain (the snapshot's 50.00 may have been spent elsewhere)
        assert out["refund"] == 1000 and out["erased"] and out["collector"] == "queued"
        assert out["left_for_collector"] == FACE_BALANCE
        assert out["text"] == ("Pay out €10.00; the face template is erased. Up to €50.00 more is paid by the "
                               "organizer once every terminal has synced")
    face = demo.kiosk.face
    assert FACE_ACCOUNT not in face.gallery
    assert [e.account_id for e in face.pending_erasure_confirmations()] == [FACE_ACCOUNT]
    assert demo.kiosk.sync.pending_face_uploads()["erasures"] == [{"account_id": FACE_ACCOUNT,
                                                                   "reason": "checkout"}]
    closes = demo.commits("close")
    assert len(closes) == 1 and closes[0]["amount"] == 1000
    assert closes[0]["data"]["left_for_collector"] == FACE_BALANCE
    topups = [e for e in demo.commits("topup") if e["card_id"] is None]
    assert len(topups) == 1


def test_vendor_cannot_enroll(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "1", "1111")
        assert c.post("/api/face/consent", json={"language": "en", "agreed": True}).status_code == 403


def test_a_bundle_replaces_prices_on_the_running_sale_screen(demo: DemoServer) -> None:
    from terminal.uplink.bundle_apply import apply_bundle

    vendor = demo.kiosk.config.terminal.vendor
    body = {"issued_at": "2099-01-01T00:00:00.000000Z", "clock": "x", "hotlist": [], "acks": {},
            "catalogue": {vendor: [{"id": "BEER", "name": "Beer 0.5 l", "price": 520},
                                   {"id": "WATER", "name": "Water", "price": 210}],
                          "Other Stall": [{"id": "X", "name": "X", "price": 1}]}}
    result = apply_bundle(demo.kiosk.sync, body)
    assert result["products"] == 2
    with demo.client() as c:
        demo.login(c, "1", "1111")
        page = c.get("/sale").text
        assert "€5.20" in page and "€2.10" in page and "Burger" not in page
        c.post("/api/cart/add", json={"sku": "BEER"})
        assert c.get("/api/state").json()["cart"]["total"] == 520
    assert demo.kiosk.catalogue.get("BEER").barcode  # the scanner table survives a price update
    # a bundle without this vendor's catalogue leaves it alone
    assert apply_bundle(demo.kiosk.sync, {**body, "issued_at": "2099-01-02T00:00:00Z", "catalogue": {}})[
        "products"] is None
    assert demo.kiosk.catalogue.get("BEER").price == 520


def test_a_frozen_account_is_not_loaded_at_the_cashier(demo: DemoServer) -> None:
    demo.kiosk.face_accounts.replace_snapshot({}, as_of_seq=0, issued_at="2026-07-01T10:00:00Z",
                                              frozen=[FACE_ACCOUNT])  # as a bundle listing it under face.frozen
    with demo.client() as c:
        demo.login(c, "2", "2222")
        assert c.get(f"/api/face/accounts/{FACE_ACCOUNT}").json()["frozen"] is True
        body = {"account_id": FACE_ACCOUNT, "amount": "10.00", "method": "cash", "request_id": "frozen1"}
        refused = c.post("/api/face/topup", json=body)
        assert refused.status_code == 409 and refused.json() == {
            "code": "face_frozen",
            "message": "This face account is frozen: no payments or top-ups until the organizer unfreezes it"}
    assert [e["data"]["code"] for e in demo.kiosk.journal.entries() if e["op"] == "decline"] == ["face_frozen"]
    assert [e for e in demo.commits("topup") if e["data"].get("request_id") == "frozen1"] == []
