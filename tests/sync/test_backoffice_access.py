"""Who may do what in the back office: every guarded route for every role and for nobody, CSRF, lock-out,
the portal kept apart, and API tokens for scripts. In-process on SQLite (the browser tests use PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.backoffice import mount
from sync.collector.backoffice.accounts import MAX_FAILED_LOGINS
from sync.collector.backoffice.permissions import PERMISSIONS
from sync.collector.backoffice.web import Web
from sync.collector.storage import Store
from terminal.config import load_keys
from tests.sync.journals import configured_terminal

PASSWORD = "correct horse 1"
ROLES = ("admin", "finance", "support", "readonly")
# path parameters that name nothing: an allowed request is refused for that, never for the role
SAMPLE = {"card_id": "999999999", "terminal_id": "65000", "username": "nobody", "request_id": "PR" + "0" * 16,
          "export_id": "SP" + "0" * 20, "name": "summary", "vendor": "no-such-vendor",
          "operator_id": "nobody1", "event_id": "no-such-event",
          "account_id": "FA-nobody", "product_id": "nothing"}


@pytest.fixture
def office(store: Store, tmp_path: Path) -> Iterator[tuple[FastAPI, Web]]:
    cfg, _ = configured_terminal(tmp_path, 2)
    keys = load_keys(cfg.parent / "keys.toml")
    for role in ROLES:
        set_user(store, role, PASSWORD, role=role)
    app = create_app(store, keys)
    web = mount(FastAPI(), store, keys)  # the same routes on a bare app give their permission table
    yield app, web


def login(app: FastAPI, username: str, password: str = PASSWORD) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    answer = client.post("/login", data={"csrf": token.group(1), "username": username, "password": password})
    if answer.status_code != 303:
        return client, ""
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/cards").text)
    assert csrf
    return client, csrf.group(1)


def url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


def test_every_route_for_every_role(office: tuple[FastAPI, Web]) -> None:
    app, web = office
    assert len(web.permissions) >= 25 and set(web.permissions.values()) == set(PERMISSIONS)
    nobody = TestClient(app, follow_redirects=False)
    clients = {role: login(app, role) for role in ROLES}
    for (method, path), permission in sorted(web.permissions.items()):
        if path == "/logout":
            continue  # below: it ends the session the other checks use
        # nobody: no data at all (a page redirects to the login, anything else is 401)
        answer = nobody.request(method, url(path), headers={"accept": "text/html"})
        assert answer.status_code in (303, 401), (method, path)
        assert answer.status_code == 401 or answer.headers["location"].startswith("/login")
        assert len(answer.content) < 40
        if path == "/live":
            continue  # an endless event stream: the browser tests read it from a real server
        for role, (client, csrf) in clients.items():
            data = {"csrf": csrf} if method == "POST" else None
            answer = client.request(method, url(path), data=data)
            if role in PERMISSIONS[permission]:
                assert answer.status_code != 403, (role, method, path, answer.text[:300])
                assert answer.status_code < 500, (role, method, path)
            else:
                assert answer.status_code == 403, (role, method, path, answer.status_code)
            if method == "POST" and role in PERMISSIONS[permission]:
                # the same request without the session's CSRF token is refused
                assert client.request(method, url(path), data={"csrf": "forged"}).status_code == 403
    for role, (client, csrf) in clients.items():
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303
        assert client.get("/", headers={"accept": "text/html"}).status_code == 303, role


def test_support_cannot_approve_payouts_or_refund(office: tuple[FastAPI, Web]) -> None:
    app, _ = office
    client, csrf = login(app, "support")
    assert client.post(f"/payouts/PR{'0' * 16}/approve", data={"csrf": csrf}).status_code == 403
    assert client.post("/payouts/export", data={"csrf": csrf}).status_code == 403
    assert client.post("/cards/1/refund", data={"csrf": csrf, "reason": "cash"}).status_code == 403
    assert "Approve" not in client.get("/payouts").text


def test_lock_out_after_wrong_passwords_and_admin_unlocks(office: tuple[FastAPI, Web], store: Store) -> None:
    app, _ = office
    for _ in range(MAX_FAILED_LOGINS):
        assert login(app, "finance", "wrong password")[1] == ""
    client, csrf = login(app, "finance")  # right password, but locked
    assert csrf == ""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    refused = client.post("/login", data={"csrf": token, "username": "finance", "password": PASSWORD})
    assert refused.status_code == 401 and "locked" in refused.text
    admin, admin_csrf = login(app, "admin")
    assert admin.post("/accounts/finance/unlock", data={"csrf": admin_csrf}).status_code == 303
    assert login(app, "finance")[1]
    actions = [r["action"] for r in store.query("SELECT action FROM audit_log WHERE target = 'user:finance'")]
    assert actions.count("login refused") == MAX_FAILED_LOGINS + 2 and "account unlocked" in actions


def test_login_form_needs_its_token_and_sessions_are_not_stored_in_clear(office: tuple[FastAPI, Web],
                                                                         store: Store) -> None:
    app, _ = office
    client = TestClient(app, follow_redirects=False)
    assert client.post("/login", data={"csrf": "x", "username": "admin", "password": PASSWORD}).status_code == 403
    client, _csrf = login(app, "admin")
    cookie = client.cookies.get("stallpay_office")
    assert cookie and not store.query("SELECT 1 FROM office_sessions WHERE session_hash = ?", [cookie])
    assert client.get("/login?next=//evil.example").status_code == 200
    token = re.search(r'name="next" value="([^"]*)"', client.get("/login?next=//evil.example").text)
    assert token and token.group(1) == "/"


def test_api_token_works_for_scripts_with_its_role(office: tuple[FastAPI, Web]) -> None:
    app, _ = office
    admin, csrf = login(app, "admin")
    page = admin.post("/accounts/readonly/token", data={"csrf": csrf, "name": "nightly export"})
    token = re.search(r'id="token">([^<]+)<', page.text)
    assert token
    api = TestClient(app)
    headers = {"authorization": f"Bearer {token.group(1)}"}
    assert api.get("/api/v1/reports/summary", headers=headers).json()["books_balance"] is True
    assert api.post("/api/v1/cards/5/block", json={"reason": "lost"}, headers=headers).status_code == 403
    assert api.get("/api/v1/reports/summary", headers={"authorization": "Bearer spt_nope"}).status_code == 401


def test_the_portal_is_apart_from_the_back_office(office: tuple[FastAPI, Web]) -> None:
    app, _ = office
    admin, _csrf = login(app, "admin")
    page = admin.get("/portal")
    assert page.status_code == 200 and "Card number" in page.text and "Log out" not in page.text
    guest = TestClient(app, follow_redirects=False)
    assert guest.post("/portal/block", data={"csrf": "x"}).status_code == 401
    codes = []
    for _ in range(7):
        token = re.search(r'name="csrf" value="([^"]+)"', guest.get("/portal").text)
        assert token
        codes.append(guest.post("/portal/login", data={"csrf": token.group(1), "card": "1",
                                                       "secret": "AAAA-AAAA"}).status_code)
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]  # five guesses per card, then wait


def test_a_link_cannot_put_its_own_words_into_a_notice(office: tuple[FastAPI, Web]) -> None:
    """The accounts and refunds pages name what was just saved or paid, but only something that exists: a crafted
    link (`?message=Call 0900…`, an unknown name) shows no notice at all, so the green box can be trusted."""
    app, _ = office
    admin, csrf = login(app, "admin")
    bait = "Call +44 900 123 for your refund"
    for path in (f"/accounts?message={bait}&saved={bait}", f"/payouts?message={bait}&paid={bait}",
                 "/payouts?paid=SP" + "0" * 20):
        page = admin.get(path)
        assert page.status_code == 200 and bait not in page.text and 'class="message"' not in page.text, path

    # a real save names the account in the reader's language
    saved = admin.post("/accounts", data={"csrf": csrf, "username": "desk2", "password": PASSWORD,
                                          "role": "support"})
    assert saved.status_code == 303 and saved.headers["location"] == "/accounts?saved=desk2"
    admin.cookies.set("stallpay_lang", "tr")
    page = admin.get(saved.headers["location"]).text
    assert re.search(r'<p class="message" role="status">Hesap kaydedildi: <span class="mono">desk2</span>', page)
    # moments read as an organizer reads them, not as ISO strings
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", page)
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", page)


def test_moments_are_shown_plainly_and_odd_ones_as_they_are() -> None:
    from sync.collector.backoffice.web import when

    assert when("2026-12-06T23:19:59.301Z") == "2026-12-06 23:19:59 UTC"
    assert when("2026-12-06T23:19:59+00:00") == "2026-12-06 23:19:59 UTC"
    assert when("2026-12-07T01:19:59+02:00") == "2026-12-06 23:19:59 UTC"
    assert when("2026-12-06T23:19:59") == "2026-12-06 23:19:59"  # no zone claimed that the value does not give
    for odd in (None, "", "yesterday", 5, "2026-12-06 23:19", "2026-13-06T23:19:59Z"):
        assert when(odd) == odd


def test_no_route_takes_a_form_with_a_nul_character(office: tuple[FastAPI, Web], store: Store) -> None:
    """On PostgreSQL a NUL in an API token's name, a terminal's venue or a page's address was a 500 (text cannot
    hold NUL); every such request is now refused before its route runs, and nothing changes."""
    app, web = office
    admin, csrf = login(app, "admin")
    before = store.query("SELECT * FROM audit_log")
    for (method, path), _permission in sorted(web.permissions.items()):
        if method != "POST" or path == "/logout":
            continue
        answer = admin.post(url(path), data={"csrf": csrf, "name": "x\x00", "venue": "Bar\x00", "reason": "\x00"},
                            headers={"accept": "text/html"})
        assert answer.status_code == 422, path
        assert "holds a NUL character" in answer.text
    assert store.query("SELECT * FROM audit_log") == before
    for page in ("/payouts?paid=SP1%00", "/accounts?saved=x%00", "/cards/5%00"):  # looked up: a 500 on PostgreSQL
        answer = admin.get(page, headers={"accept": "text/html"})
        assert answer.status_code == 422 and "the address holds a NUL character" in answer.text, page
