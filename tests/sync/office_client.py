"""An organizer signed in to the back office in-process (FastAPI's TestClient), for tests that drive its forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

PASSWORD = "correct horse 1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def office_login(app: object, username: str, password: str = PASSWORD) -> tuple[TestClient, str]:
    """(a client holding the session cookie, the CSRF token its forms carry); the login must succeed."""
    client = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    token = CSRF.search(client.get("/login").text)
    assert token
    assert client.post("/login", data={"csrf": token.group(1), "username": username,
                                       "password": password}).status_code == 303
    csrf = CSRF.search(client.get("/cards").text)
    assert csrf
    return client, csrf.group(1)
