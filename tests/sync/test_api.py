"""The HTTP API with the real upload client: pairing, resumable uploads, bundles, organizer access."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.enrollment import new_pairing_code, revoke
from sync.collector.storage import Store, open_store
from sync.collector.summary import summary
from terminal.config import load_keys
from terminal.uplink.client import CollectorClient, SyncFailed
from terminal.uplink.terminal_side import open_terminal
from terminal.wallet.hotlist import Hotlist
from tests.sync.journals import EVENT, configured_terminal


class FlakyClient(TestClient):
    """Drops the connection on chosen request numbers, like a stall's Wi-Fi."""

    def __init__(self, app, drop: set[int]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(app)
        self.drop, self.calls = drop, 0

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.calls += 1
        if self.calls in self.drop:
            raise httpx.ConnectError("connection dropped")
        return super().request(*args, **kwargs)


def _setup(tmp_path: Path, store: Store, n_ops: int = 30):  # type: ignore[no-untyped-def]
    cfg, term = configured_terminal(tmp_path, 4)
    term.book("issue", 1, 9000, method="cash")
    for i in range(n_ops):
        term.book("sale", 1, 10 + i)
    ts = open_terminal(cfg)
    keys = load_keys(cfg.parent / "keys.toml")
    return ts, term, keys


def _client(app, ts, drop=(), attempts=5) -> CollectorClient:  # type: ignore[no-untyped-def]
    return CollectorClient("http://testserver", ts, http=FlakyClient(app, set(drop)), sleep=lambda s: None,
                           attempts=attempts)


def test_pair_upload_bundle_with_dropped_connections(tmp_path: Path, store: Store, store_target: str) -> None:
    ts, term, keys = _setup(tmp_path, store)
    app = create_app(store, keys)
    c = _client(app, ts, drop={1, 3})  # retried
    c.pair(new_pairing_code(store, vendor="Grill"))
    # the connection dies for good after the first batch: the terminal keeps what is not acknowledged
    c2 = _client(app, ts, drop={3, 4}, attempts=2)
    c2.batch_size = 10
    with pytest.raises(SyncFailed, match="unreachable"):
        c2.sync_once()
    partly = ts.state.acked_seq
    assert 0 < partly < term.journal.head()[0]
    # the collector restarts (a fresh app on the same database) and the terminal resumes
    app2 = create_app(open_store(store_target), keys)
    result = _client(app2, ts, drop={2}).sync_once()
    assert result["acked_seq"] == term.journal.head()[0]
    assert ts.status()["unsynced_entries"] == 0
    s = summary(store)
    assert s["outstanding"] == sum(term.cards.balance.values()) and s["entries"] == term.journal.head()[0]


def test_unreachable_collector_loses_nothing(tmp_path: Path, store: Store) -> None:
    ts, term, keys = _setup(tmp_path, store, n_ops=3)
    c = _client(create_app(store, keys), ts, drop=set(range(1, 100)), attempts=3)
    with pytest.raises(SyncFailed, match="unreachable after 3 attempts"):
        c.sync_once()
    assert ts.journal.undelivered_count() == term.journal.head()[0]


def test_revoked_terminal_and_unsigned_requests_are_refused(tmp_path: Path, store: Store) -> None:
    ts, _, keys = _setup(tmp_path, store, n_ops=2)
    app = create_app(store, keys)
    c = _client(app, ts)
    c.pair(new_pairing_code(store, role="cashier"))  # the terminal issues cards
    http = TestClient(app)
    assert http.get("/api/v1/bundle").status_code == 401
    assert http.get("/api/v1/bundle", headers={"x-terminal-id": "4", "x-timestamp": "x",
                                               "x-signature": "00"}).status_code == 401
    revoke(store, 4)
    with pytest.raises(SyncFailed, match="revoked"):
        c.sync_once()
    assert summary(store)["entries"] == 0


def test_hotlist_reaches_terminal_over_http(tmp_path: Path, store: Store) -> None:
    ts, _, keys = _setup(tmp_path, store, n_ops=1)
    set_user(store, "org", "correct horse")
    app = create_app(store, keys)
    c = _client(app, ts)
    c.pair(new_pairing_code(store, role="cashier"))  # the terminal issues cards
    http = TestClient(app)
    assert http.post("/api/v1/cards/42/block", json={"reason": "lost"}).status_code == 401
    assert http.post("/api/v1/cards/42/block", json={"reason": "lost"}, auth=("org", "wrong pass")).status_code == 401
    assert http.post("/api/v1/cards/42/block", json={"reason": "lost"}, auth=("org", "correct horse")).is_success
    c.sync_once()
    assert Hotlist(ts.journal.db).reason(42) == "lost"
    r = http.get("/api/v1/reports/summary", auth=("org", "correct horse"))
    assert r.json()["deposited"] == 9000
    assert "<svg" in http.get("/api/v1/reports/vendors?format=html", auth=("org", "correct horse")).text


def _signed(ts, method: str, path: str, body: bytes = b"", when=None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from sync.format.request_signing import request_message

    stamp = (when or datetime.now(UTC)).isoformat()
    return {"x-terminal-id": str(ts.config.terminal.id), "x-timestamp": stamp,
            "x-signature": ts.key.sign(request_message(method, path, stamp, body)).hex()}


def test_replayed_or_stale_requests_are_refused(tmp_path: Path, store: Store, store_target: str) -> None:
    from datetime import UTC, datetime, timedelta

    ts, _, keys = _setup(tmp_path, store, n_ops=1)
    app = create_app(store, keys, request_window_s=120)
    _client(app, ts).pair(new_pairing_code(store))
    http = TestClient(app)
    headers = _signed(ts, "GET", "/api/v1/bundle")
    assert http.get("/api/v1/bundle", headers=headers).status_code == 200
    again = http.get("/api/v1/bundle", headers=headers)  # captured and sent again
    assert again.status_code == 401 and "replayed" in again.json()["detail"]
    # still refused after a collector restart (the seen signatures live in the database)
    again = TestClient(create_app(open_store(store_target), keys, request_window_s=120)).get(
        "/api/v1/bundle", headers=headers)
    assert again.status_code == 401 and "replayed" in again.json()["detail"]
    now = datetime.now(UTC)
    stale = http.get("/api/v1/bundle", headers=_signed(ts, "GET", "/api/v1/bundle", when=now - timedelta(minutes=3)))
    assert stale.status_code == 401 and "too far" in stale.json()["detail"]
    early = http.get("/api/v1/bundle", headers=_signed(ts, "GET", "/api/v1/bundle", when=now + timedelta(minutes=3)))
    assert early.status_code == 401
    inside = http.get("/api/v1/bundle", headers=_signed(ts, "GET", "/api/v1/bundle", when=now - timedelta(minutes=1)))
    assert inside.status_code == 200
    # a replayed batch upload changes nothing either
    from sync.format.batch import encode
    from terminal.uplink.export import batches

    body = encode(next(batches(ts.journal, ts.key)))
    up = _signed(ts, "POST", "/api/v1/batches", body)
    assert http.post("/api/v1/batches", content=body, headers=up).status_code == 200
    assert http.post("/api/v1/batches", content=body, headers=up).status_code == 401


def test_default_request_window_is_five_minutes() -> None:
    from datetime import UTC, datetime, timedelta

    from sync.collector.auth import request_fresh

    now = datetime.now(UTC)
    assert request_fresh((now - timedelta(minutes=4)).isoformat(), now)
    assert not request_fresh((now - timedelta(minutes=6)).isoformat(), now)
    assert not request_fresh("2025-07-01T10:00:00", now)  # no time zone: refused


def test_replacement_quote_over_http(tmp_path: Path, store: Store) -> None:
    ts, term, keys = _setup(tmp_path, store, n_ops=2)
    set_user(store, "desk", "cashier pass", role="organizer")
    set_user(store, "auditor", "viewer pass", role="viewer")
    app = create_app(store, keys)
    c = _client(app, ts)
    c.pair(new_pairing_code(store, role="cashier"))  # the terminal issues cards
    c.sync_once()
    http = TestClient(app)
    assert http.post("/api/v1/cards/1/replacement", json={}, auth=("auditor", "viewer pass")).status_code == 403
    r = http.post("/api/v1/cards/1/replacement", json={"reason": "lost at stage"}, auth=("desk", "cashier pass"))
    assert r.status_code == 200 and r.json() == {"card_id": 1, "balance": term.cards.balance[1], "comp": 0}
    assert Hotlist(ts.journal.db).reason(1) is None  # not yet: the terminal learns it at its next sync
    c.sync_once()
    assert Hotlist(ts.journal.db).reason(1) == "lost at stage"
    r = http.post("/api/v1/cards/777/replacement", json={}, auth=("desk", "cashier pass"))
    assert r.status_code == 409 and "no committed entries" in r.json()["detail"]


def test_a_terminal_name_with_control_characters_is_a_refusal_not_a_server_error(tmp_path: Path,
                                                                                   store: Store) -> None:
    _ts, _, keys = _setup(tmp_path, store, n_ops=0)
    http = TestClient(create_app(store, keys))
    body = {"code": new_pairing_code(store), "event_id": EVENT, "terminal_id": 9, "public_key": "ab" * 32}
    for name, said in (("Bar\x00", "NUL"), ("Bar\n2", "printable")):  # NUL was a PostgreSQL DataError: HTTP 500
        answer = http.post("/api/v1/pair", json={**body, "name": name})
        assert 400 <= answer.status_code < 500 and said in answer.json()["detail"]
    assert http.post("/api/v1/pair", json={**body, "name": "Bar 2"}).status_code == 200


def test_organizer_requests_with_a_nul_character_are_refused_not_a_server_error(tmp_path: Path,
                                                                                  store: Store) -> None:
    """On PostgreSQL a NUL in a block reason, a product name or a vendor in the path was a 500."""
    _ts, _, keys = _setup(tmp_path, store, n_ops=0)
    set_user(store, "org", "correct horse")
    http = TestClient(create_app(store, keys), headers={"authorization": "Basic b3JnOmNvcnJlY3QgaG9yc2U="})
    product = {"id": "BEER", "name": "Beer", "price": 450}
    for method, path, body in [("POST", "/api/v1/cards/5/block", {"reason": "lost\x00"}),
                               ("PUT", "/api/v1/catalogue/Grill", [{**product, "name": "Be\x00er"}]),
                               ("PUT", "/api/v1/catalogue/Gr%00ill", [product])]:
        answer = http.request(method, path, json=body)
        assert answer.status_code == 422 and "NUL" in answer.json()["detail"], (path, answer.text)
    assert store.query("SELECT * FROM hotlist") == [] and store.query("SELECT * FROM catalogue") == []
    assert http.put("/api/v1/catalogue/Grill", json=[product]).json() == {"vendor": "Grill", "products": 1}
