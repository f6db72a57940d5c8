"""An event's dates on the collector (SQLite and PostgreSQL): bundles carry them, pairing stops after the end and
its grace, and money timestamped outside them, on cards and on face accounts, is flagged `outside_event` while the
books still balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.bundle import build_bundle
from sync.collector.enrollment import EventOver, new_pairing_code, pair
from sync.collector.event_window import DateError, plan_window, stored_window, write_window
from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import hotlist, reconcile
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from sync.format.pairing import make_request
from terminal.config import load_keys
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, configured_terminal, make_terminal


def _days(n: int) -> str:
    return (datetime.now(UTC) + timedelta(days=n)).date().isoformat()


def _set(store: Store, starts: str, ends: str, grace: float | None = None) -> None:
    write_window(store, plan_window(store, starts, ends, grace))


def test_bundle_carries_the_window_only_when_dates_are_set(tmp_path: Path, store: Store) -> None:
    cfg, _ = configured_terminal(tmp_path, 2)
    keys = load_keys(cfg.parent / "keys.toml")
    assert "event_window" not in build_bundle(store, keys)["body"]["settings"]
    _set(store, "2026-08-07", "2026-08-09", 6)
    settings = build_bundle(store, keys)["body"]["settings"]
    assert settings["event_window"] == {"starts": "2026-08-07", "ends": "2026-08-09", "grace_h": 6.0}
    assert "card_limits" in settings and "face" in settings  # the other settings are unchanged


def test_a_refused_window_changes_nothing(store: Store) -> None:
    _set(store, "2026-08-07", "2026-08-09")
    for starts, ends, grace in (("2026-08-10", None, None), ("2026-02-30", None, None), (None, "tomorrow", None),
                                (None, None, -1), (None, None, float("nan"))):
        with pytest.raises(DateError):
            plan_window(store, starts, ends, grace)
    window = stored_window(store)
    assert window is not None and (window.starts, window.ends, window.grace_h) == ("2026-08-07", "2026-08-09", 12.0)


def test_pairing_is_refused_after_the_end_and_grace(tmp_path: Path, store: Store) -> None:
    cfg, _ = configured_terminal(tmp_path, 2)
    http = TestClient(create_app(store, load_keys(cfg.parent / "keys.toml")))
    code = new_pairing_code(store, role="sale")  # made while the event runs
    _set(store, _days(-10), _days(-2), 12)  # the last day ended more than a day and 12 h ago
    answer = http.post("/api/v1/pair", json={"code": code, "event_id": EVENT, "terminal_id": 7,
                                             "public_key": "ab" * 32})
    assert answer.status_code == 409 and "no terminal can be paired" in answer.json()["detail"]
    sealed = make_request(code, event_id=EVENT, terminal_id=7, public_key="ab" * 32, name="stall 7")[0]
    answer = http.post("/api/v1/pair/keys", json=sealed)  # the same refusal for pairing with keys
    assert answer.status_code == 409 and "no terminal can be paired" in answer.json()["detail"]
    assert store.query("SELECT used_by FROM pairing_codes") == [{"used_by": None}]
    assert store.scalar("SELECT COUNT(*) FROM terminals") == 0
    with pytest.raises(EventOver, match=_days(-2)):
        new_pairing_code(store)
    # the whole last day is open, and its grace after it: an event ending today (or yesterday, 36 h) still pairs
    _set(store, _days(-10), _days(-1), 36)
    assert pair(store, code=new_pairing_code(store), event_id=EVENT, terminal_id=8,
                public_key="cd" * 32)["status"] == "active"


def test_outside_event_is_flagged_and_the_books_balance(tmp_path: Path, store: Store) -> None:
    cards = Cards()
    t1 = make_terminal(tmp_path, 1, cards, store)
    t1.book("issue", 5, 5000, method="cash")
    t1.book("sale", 5, 1200)
    t1.book("close", 5, 3800)
    for b in batches(t1.journal, t1.key):
        ingest_bytes(store, encode(b))
    reconcile(store)
    assert summary(store)["anomalies"] == {}
    _set(store, _days(-10), _days(-3), 0)  # the movements above happened after the event
    counts = reconcile(store)
    assert counts == {"outside_event": 3}  # the three commits, not their intents
    details = [r["detail"] for r in store.query("SELECT detail FROM anomalies WHERE kind = 'outside_event'")]
    assert all("after the event" in d for d in details)
    books = summary(store)
    assert books["books_balance"] is True and books["money_anomalies"] == 0
    assert books["anomalies"] == {"outside_event": 3}
    assert 5 not in dict(hotlist(store))  # informational: no card is blocked for it
    _set(store, _days(-1), _days(1))  # movements inside the window are not flagged
    assert reconcile(store) == {}


def _office_page(store: Store, tmp_path: Path, path: str) -> str:
    from sync.collector.auth import set_user
    from terminal.config import EventKeys
    from tests.sync.test_backoffice_events import PASSWORD, _login

    set_user(store, "admin", PASSWORD, role="admin")
    app = create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32)),
                     events_dir=tmp_path / "keys")
    admin, _csrf = _login(app, "admin")
    return admin.get(path).text


def test_back_office_shows_the_dates_and_refuses_codes_after_the_end(store: Store, tmp_path: Path) -> None:
    import html

    from sync.collector.auth import set_user
    from terminal.config import EventKeys
    from tests.sync.test_backoffice_events import PASSWORD, _login

    set_user(store, "admin", PASSWORD, role="admin")
    app = create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32)),
                     events_dir=tmp_path / "keys")
    admin, csrf = _login(app, "admin")
    _set(store, _days(-10), _days(-2), 12)
    events = admin.get("/events").text
    assert f"{_days(-10)} – {_days(-2)}" in events  # the dates in force, from the event's settings
    answer = admin.post("/terminals/pairing-code", data={"csrf": csrf, "role": "sale", "hours": "24"})
    assert answer.status_code == 409 and "no terminal can be paired with it any more" in html.unescape(answer.text)
    assert store.scalar("SELECT COUNT(*) FROM pairing_codes") == 0


def test_face_account_movements_outside_the_event_are_flagged_too(tmp_path: Path, store: Store) -> None:
    from terminal.wallet.face_accounts import FaceAccounts
    from tests.sync.test_face_accounts import _terminal, _upload

    cashier, _keys = _terminal(tmp_path, store, 1, "cashier")
    FaceAccounts(cashier.journal).topup("FA-anna", 2000, method="cash", operator="c")
    FaceAccounts(cashier.journal).topup("FA-bora", 3000, method="cash", operator="c")
    _upload(store, cashier)
    assert reconcile(store) == {} and summary(store)["anomalies"] == {}
    _set(store, _days(-10), _days(-3), 0)  # the top-ups happened after the event: no card, but an account each
    assert reconcile(store) == {"outside_event": 2}
    flagged = store.query("SELECT card_id, detail, amount FROM anomalies WHERE kind = 'outside_event' ORDER BY detail")
    assert [r["card_id"] for r in flagged] == [0, 0] and [r["amount"] for r in flagged] == [None, None]
    assert flagged[0]["detail"].startswith("face account FA-anna: topup at ")
    assert flagged[1]["detail"].startswith("face account FA-bora: topup at ")
    assert all("after the event" in r["detail"] for r in flagged)
    assert reconcile(store) == {"outside_event": 2}  # a second run finds the same, not twice as many
    assert store.scalar("SELECT COUNT(*) FROM anomalies") == 2
    # a movement uploaded while the dates are past is flagged as it arrives, before any full reconcile
    seen = cashier.journal.head()[0]
    FaceAccounts(cashier.journal).topup("FA-anna", 500, method="cash", operator="c")
    _upload(store, cashier, after=seen)
    assert store.scalar("SELECT COUNT(*) FROM anomalies WHERE kind = 'outside_event' AND card_id = 0") == 3
    books = summary(store)  # informational: the books balance, no account is frozen, nothing is hotlisted
    assert books["books_balance"] is True and books["money_anomalies"] == 0
    assert books["anomalies"] == {"outside_event": 3} and books["outstanding_face_accounts"] == 5500
    assert hotlist(store) == []
    assert {r["status"] for r in store.query("SELECT status FROM face_accounts")} == {"active"}
    dashboard = _office_page(store, tmp_path, "/")  # listed as a face account, not as a "card 0"
    assert 'href="/face" title="face account FA-anna: topup at' in dashboard and "/cards/0" not in dashboard
    _set(store, _days(-1), _days(1))  # inside the dates: the flags go on the next reconcile
    assert reconcile(store) == {} and store.scalar("SELECT COUNT(*) FROM anomalies") == 0
