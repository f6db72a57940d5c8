"""Consent at the cashier of a real demo terminal (HTTP): the record pins the text shown, and a withdrawal erases
the template at once, is journaled, and is queued for the collector (no collector configured here)."""

from __future__ import annotations

import hashlib
import sqlite3

from tests.ui.conftest import DemoServer


def test_consent_record_pins_the_text_and_withdrawal_erases(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        texts = c.get("/api/face/consent").json()
        days = demo.kiosk.config.camera.retention_days
        assert f"{days} days" in texts["en"]  # the retention is in the text the guest reads
        account = c.post("/api/face/consent", json={"language": "bg", "agreed": True}).json()["account_id"]
        assert c.post("/api/display/consent", json={"account_id": account, "agreed": True},
                    headers=demo.display_headers(c)).json()["status"] == "agreed"
        assert c.post("/sim/api/face", json={"photo": "biden.jpg"}).status_code == 200
        assert c.post("/api/face/enroll", json={"account_id": account}).json()["outcome"] == "enrolled"
        with sqlite3.connect(demo.kiosk.config.data_dir / "face.db") as db:
            (text_id, operator) = db.execute("SELECT consent_text_id, operator FROM face_consents "
                                             "WHERE account_id = ?", [account]).fetchone()
        digest = hashlib.sha256(texts["bg"].encode()).hexdigest()
        assert text_id == f"face-consent-v1/bg/sha256:{digest}/{days}d/guest_display" and operator == "2"
        assert account in demo.kiosk.face.gallery
        answer = c.post("/api/face/withdraw", json={"account_id": account}).json()
        assert answer["erased"] and answer["collector"] == "queued", answer
        assert account not in demo.kiosk.face.gallery
        vendor = demo.client()
        demo.login(vendor, "1", "1111")
        assert vendor.post("/api/face/withdraw", json={"account_id": account}).status_code == 403
    queued = demo.kiosk.sync.pending_face_uploads()
    assert [e["account_id"] for e in queued["erasures"]] == [account]
    assert [q["account_id"] for q in queued["enrollments"]] == []  # the queued template went with the withdrawal
    events = [e["data"] for e in demo.kiosk.journal.entries() if e["op"] == "face"]
    assert any(d.get("event") == "face_withdrawal" and d.get("account_id") == account for d in events)
    assert [e.reason for e in demo.kiosk.face.pending_erasure_confirmations()] == ["withdrawn"]


def test_enroll_needs_the_guests_own_yes_and_no_records_a_declined_consent(demo: DemoServer) -> None:
    with demo.client() as c:
        demo.login(c, "2", "2222")
        assert c.post("/sim/api/face", json={"photo": "biden.jpg"}).status_code == 200
        asked = c.post("/api/face/consent", json={"language": "tr", "agreed": True}).json()
        account = asked["account_id"]
        assert asked["status"] == "waiting" and "customer display" in asked["text"]
        # the display shows the exact text, in the guest's language, while the cashier waits
        shown = demo.kiosk.snapshot()["face"]["consent"]
        assert shown["account_id"] == account and shown["language"] == "tr"
        assert shown["text"] == c.get("/api/face/consent").json()["tr"]
        assert c.get(f"/api/face/consent/{account}").json()["status"] == "waiting"
        # the cashier cannot capture before the guest answered: refused, nothing stored
        refused = c.post("/api/face/enroll", json={"account_id": account})
        assert refused.status_code == 409 and "customer display" in refused.json()["message"]
        assert account not in demo.kiosk.face.gallery
        # the guest taps "No": a declined consent is recorded, and capture stays refused
        no = c.post("/api/display/consent", json={"account_id": account, "agreed": False},
                    headers=demo.display_headers(c)).json()
        assert no["status"] == "declined" and demo.kiosk.snapshot()["face"]["consent"] is None
        assert c.get(f"/api/face/consent/{account}").json()["status"] == "declined"
        assert c.post("/api/face/enroll", json={"account_id": account}).status_code == 409
        # a late "I agree" for the answered request changes nothing
        late = c.post("/api/display/consent", json={"account_id": account, "agreed": True},
                    headers=demo.display_headers(c)).json()
        assert late["status"] == "declined"
        assert c.post("/api/face/enroll", json={"account_id": account}).status_code == 409
    assert account not in demo.kiosk.face.gallery
    with sqlite3.connect(demo.kiosk.config.data_dir / "face.db") as db:
        rows = db.execute("SELECT consent_text_id FROM face_consents WHERE account_id = ?", [account]).fetchall()
    assert len(rows) == 1 and rows[0][0].startswith("face-consent-v1/tr/sha256:") and rows[0][0].endswith("/declined")


def test_no_answer_from_the_guest_times_out_as_declined(demo: DemoServer) -> None:
    from terminal.app.face_guest_consent import CONFIRM_TIMEOUT_S

    now = [1000.0]
    demo.kiosk.face_cashier.guest._clock = lambda: now[0]
    with demo.client() as c:
        demo.login(c, "2", "2222")
        account = c.post("/api/face/consent", json={"language": "zh", "agreed": True},
                    headers=demo.display_headers(c)).json()["account_id"]
        now[0] += CONFIRM_TIMEOUT_S - 1
        assert c.get(f"/api/face/consent/{account}").json()["status"] == "waiting"
        now[0] += 2
        status = c.get(f"/api/face/consent/{account}").json()
        assert status["status"] == "timeout" and status["text"]
        assert demo.kiosk.snapshot()["face"]["consent"] is None
        # the guest's tap after the timeout records nothing more
        late = c.post("/api/display/consent", json={"account_id": account, "agreed": True},
                    headers=demo.display_headers(c)).json()
        assert late["status"] == "timeout"
        assert c.post("/api/face/enroll", json={"account_id": account}).status_code == 409
    with sqlite3.connect(demo.kiosk.config.data_dir / "face.db") as db:
        rows = db.execute("SELECT consent_text_id FROM face_consents WHERE account_id = ?", [account]).fetchall()
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["declined"]


def test_only_the_display_on_this_board_can_answer(demo: DemoServer) -> None:
    """An answer without the display's per-boot token, or with a wrong one, is refused and changes nothing;
    the token is handed out only with a display page fetched over loopback."""
    from terminal.ui.display_token import DisplayToken

    with demo.client() as c:
        demo.login(c, "2", "2222")
        account = c.post("/api/face/consent", json={"language": "en", "agreed": True}).json()["account_id"]
        for headers in ({}, {"X-Display-Token": "guessed"}, {"X-Display-Token": ""}):
            refused = c.post("/api/display/consent", json={"account_id": account, "agreed": True}, headers=headers)
            assert refused.status_code == 403 and refused.json()["code"] == "display_only", refused.text
        assert c.get(f"/api/face/consent/{account}").json()["status"] == "waiting"
        assert c.post("/api/face/enroll", json={"account_id": account}).status_code == 409
        agreed = c.post("/api/display/consent", json={"account_id": account, "agreed": True},
                        headers=demo.display_headers(c)).json()
        assert agreed["status"] == "agreed"
    token = DisplayToken()
    given = token.for_client("127.0.0.1")
    assert given and token.for_client("::1") == given
    assert token.for_client("192.168.1.20") == "" and token.for_client(None) == "" and token.for_client("x") == ""
    assert token.accepts(given, "127.0.0.1") and not token.accepts(given, "192.168.1.20")
