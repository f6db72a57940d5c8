"""An admin sets an event's dates on the back office events page, for the home event and for a second event of
the same collector: each event's own books (and so its bundles) carry its own window, the other is unchanged;
a refused date changes nothing (422, translated); other roles are refused; the audit log says who changed what
from what to what. In-process on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.bundle import build_bundle
from sync.collector.event_registry import event_target
from sync.collector.event_window import stored_window
from sync.collector.storage import Store, open_store
from terminal.config import EventKeys, load_keys
from tests.sync.journals import EVENT
from tests.sync.office_client import office_login as _login

PASSWORD = "correct horse 1"


def _window(store: Store, keys: EventKeys) -> dict | None:
    return build_bundle(store, keys)["body"]["settings"].get("event_window")


def _registry(store: Store) -> dict[str, tuple[str, str]]:
    return {r["event_id"]: (r["starts"], r["ends"]) for r in store.query("SELECT event_id, starts, ends FROM events")}


def _settings(store: Store) -> list[dict]:
    return store.query("SELECT * FROM settings ORDER BY 1")


def test_admin_sets_each_events_dates_on_the_events_page(store: Store, store_target: str, tmp_path: Path) -> None:
    fair = f"fair-{secrets.token_hex(4)}"  # on PostgreSQL an event's schema is named for it: not another test's
    for role in ("admin", "finance", "support", "readonly"):
        set_user(store, role, PASSWORD, role=role)
    keys = EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32))
    app = create_app(store, keys, events_dir=tmp_path / "keys")
    admin, csrf = _login(app, "admin")
    assert admin.post("/events", data={"csrf": csrf, "event_id": fair, "name": "Winter fair",
                                       "currency": "EUR"}).status_code == 200
    second = open_store(event_target(store_target, fair))
    second_keys = load_keys(tmp_path / "keys" / f"keys-{fair}.toml")

    # no dates yet: the page says so, in the chosen language, and offers the admin a form per event
    page = admin.get("/events").text
    assert "— – —" not in page and page.count("not set") == 2
    assert f'action="/events/{EVENT}/dates"' in page and f'action="/events/{fair}/dates"' in page
    admin.cookies.set("stallpay_lang", "tr")
    assert "ayarlanmadı" in admin.get("/events").text
    admin.cookies.set("stallpay_lang", "en")

    # the home event gets its dates; the second event is unchanged
    answer = admin.post(f"/events/{EVENT}/dates", data={"csrf": csrf, "starts": "2026-08-07", "ends": "2026-08-09",
                                                        "grace_h": "6"})
    assert answer.status_code == 200 and "Event dates saved" in answer.text
    assert "2026-08-07 – 2026-08-09" in answer.text and "grace 6 h" in answer.text
    assert _window(store, keys) == {"starts": "2026-08-07", "ends": "2026-08-09", "grace_h": 6.0}
    assert _window(second, second_keys) is None

    # then the second event; the home event keeps its own
    answer = admin.post(f"/events/{fair}/dates", data={"csrf": csrf, "starts": "2026-12-10", "ends": "2026-12-12",
                                                         "grace_h": ""})  # empty grace: the default stays
    assert answer.status_code == 200
    assert _window(second, second_keys) == {"starts": "2026-12-10", "ends": "2026-12-12", "grace_h": 12.0}
    assert _window(store, keys) == {"starts": "2026-08-07", "ends": "2026-08-09", "grace_h": 6.0}
    assert _registry(store) == {EVENT: ("2026-08-07", "2026-08-09"), fair: ("2026-12-10", "2026-12-12")}

    # the audit log: who, what, on which event, old -> new
    rows = store.query("SELECT username, action, target, detail FROM audit_log WHERE action = 'event dates changed' "
                       "ORDER BY at")
    assert [(r["username"], r["target"]) for r in rows] == [("admin", f"event:{EVENT}"), ("admin", f"event:{fair}")]
    assert json.loads(rows[0]["detail"]) == {"old": None, "new": {"starts": "2026-08-07", "ends": "2026-08-09",
                                                                  "grace_h": 6.0}}
    admin.post(f"/events/{EVENT}/dates", data={"csrf": csrf, "starts": "2026-08-06", "ends": "2026-08-09",
                                               "grace_h": "6"})
    last = store.query("SELECT detail FROM audit_log WHERE action = 'event dates changed' ORDER BY at DESC LIMIT 1")
    assert json.loads(last[0]["detail"])["old"]["starts"] == "2026-08-07"
    assert json.loads(last[0]["detail"])["new"]["starts"] == "2026-08-06"

    # refused: nothing changes in either event, nor in the registry or the audit log
    before = (_settings(store), _settings(second), _registry(store),
              store.query("SELECT count(*) AS n FROM audit_log")[0]["n"])
    for event in (EVENT, fair):
        for starts, ends, grace, said in (
                ("2026-08-10", "2026-08-09", "6", "cannot end before it starts"),
                ("2026-02-30", "2026-03-02", "6", "The start is not a date"),
                ("2026-02-01", "soon", "6", "The end is not a date"),
                ("'; DROP TABLE settings; --", "", "", "The start is not a date"),
                ("2026-08-07", "2026-08-09", "1e400", "The grace is a number of hours"),
                ("2026-08-07", "2026-08-09", "100000", "The grace is a number of hours"),
                ("2026-08-07", "2026-08-09", "-1", "The grace is a number of hours"),
                ("2026-08-07", "2026-08-09", "nan", "The grace is a number of hours"),
                ("2026-08-07", "2026-08-09", "many", "The grace is a number of hours")):
            answer = admin.post(f"/events/{event}/dates", data={"csrf": csrf, "starts": starts, "ends": ends,
                                                                "grace_h": grace})
            assert answer.status_code == 422 and said in answer.text, (event, starts, ends, grace)
    admin.cookies.set("stallpay_lang", "bg")
    answer = admin.post(f"/events/{EVENT}/dates", data={"csrf": csrf, "starts": "2026-08-10", "ends": "2026-08-09"})
    assert answer.status_code == 422 and "Събитието не може да свърши" in answer.text
    admin.cookies.set("stallpay_lang", "en")
    assert admin.post("/events/no-such-event/dates", data={"csrf": csrf, "starts": "2026-08-10"}).status_code == 404
    assert admin.post(f"/events/{EVENT}/dates", data={"csrf": "forged", "starts": "2026-08-10"}).status_code == 403
    assert (_settings(store), _settings(second), _registry(store),
            store.query("SELECT count(*) AS n FROM audit_log")[0]["n"]) == before

    # other roles may not change dates and are not offered the form
    for role in ("finance", "support", "readonly"):
        client, role_csrf = _login(app, role)
        assert f'action="/events/{EVENT}/dates"' not in client.get("/events").text
        answer = client.post(f"/events/{fair}/dates", data={"csrf": role_csrf, "starts": "2026-01-01",
                                                              "ends": "2026-01-02"})
        assert answer.status_code == 403, role
    window = stored_window(second)
    assert window is not None and (window.starts, window.ends) == ("2026-12-10", "2026-12-12")

    # clearing both dates: the page says "not set" again and bundles carry no window
    assert admin.post(f"/events/{fair}/dates", data={"csrf": csrf, "starts": "", "ends": ""}).status_code == 200
    assert _window(second, second_keys) is None and _registry(store)[fair] == ("", "")
    assert admin.get("/events").text.count("not set") == 1


def test_every_refusal_and_word_of_the_dates_form_is_translated() -> None:
    from sync.collector.backoffice.language import gettext
    from sync.collector.backoffice.routes_events import DATE_REFUSALS

    words = ["not set", "grace", "Change dates", "Grace (hours)", "Save dates", "event dates changed",
             "Event dates saved. Terminals enforce them from their next bundle.", *DATE_REFUSALS.values()]
    for language in ("bg", "tr", "zh_CN"):
        for word in words:
            assert gettext(language, word) != word, (language, word)
