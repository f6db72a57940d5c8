"""The event's dates on the terminal, pure: the window's edges, the trusted time, hostile settings, what is refused."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

from terminal.wallet.event_window import EventWindow, check, from_settings, refusal, stored, trusted_now
from terminal.wallet.rules import Declined

WINDOW = {"event_window": {"starts": "2026-08-07", "ends": "2026-08-09", "grace_h": 12}}


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_the_window_runs_from_the_first_day_less_grace_to_the_day_after_the_last_plus_grace() -> None:
    window = from_settings(WINDOW)
    assert window is not None
    assert window.position(_t("2026-08-06T11:59:59")) == "before"
    assert window.is_open(_t("2026-08-06T12:00:00"))
    assert window.is_open(_t("2026-08-09T23:59:59"))  # the whole last day
    assert window.is_open(_t("2026-08-10T12:00:00"))  # and its grace
    assert window.position(_t("2026-08-10T12:00:01")) == "after"
    open_end = EventWindow(None, datetime(2026, 8, 9).date(), 0)
    assert open_end.is_open(_t("2000-01-01T00:00:00")) and not open_end.is_open(_t("2026-08-10T00:00:01"))


@pytest.mark.parametrize("settings", [None, [], {"event_window": "2026"}, {"event_window": {}},
                                      {"event_window": {"starts": "2026-13-01", "ends": None}},
                                      {"event_window": {"starts": "2026-08-09", "ends": "2026-08-07"}},
                                      {"event_window": {"starts": "2026-08-07", "grace_h": True}},
                                      {"event_window": {"starts": "2026-08-07", "grace_h": -1}},
                                      {"event_window": {"starts": "2026-08-07", "grace_h": "12"}},
                                      {"event_window": {"starts": 20260807}}])
def test_hostile_or_missing_settings_lock_no_one_out(settings: object) -> None:
    assert from_settings(settings) is None


def test_only_a_trusted_clock_is_judged() -> None:
    now = _t("2026-09-01T00:00:00")
    assert trusted_now(now, synced=False, offset_ms=None) is None  # a Pi without network: no idea of the date
    assert trusted_now(now, synced=True, offset_ms=None) == now
    assert trusted_now(now, synced=False, offset_ms=-3_600_000) == now - 3600  # the collector's time
    assert trusted_now(now, synced=False, offset_ms=10**12) is None  # a clock off by years: not trusted
    assert trusted_now(now, synced=False, offset_ms=True) is None


def test_money_in_is_refused_outside_refunds_never() -> None:
    window = from_settings(WINDOW)
    after, before = _t("2026-08-11T00:00:00"), _t("2026-08-01T00:00:00")
    for op in ("sale", "topup", "issue", "comp"):
        found = refusal(window, op, after)
        assert found is not None and found.code == "outside_event" and "ended on 2026-08-09" in found.message
        assert refusal(window, op, before).code == "outside_event"  # type: ignore[union-attr]
        assert refusal(window, op, None) is None  # untrusted clock: lenient
        assert refusal(window, op, _t("2026-08-08T10:00:00")) is None
    for op in ("close", "void", "read", "replace"):
        assert refusal(window, op, after) is None


def test_check_reads_the_last_bundle_from_sync_state() -> None:
    db = sqlite3.connect(":memory:")
    after = _t("2026-08-11T00:00:00")
    check(db, "sale", after, synced=True)  # never synced: no table, nothing refused
    db.execute("CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO sync_state VALUES ('bundle_settings', ?)", [json.dumps(WINDOW)])
    check(db, "sale", after, synced=False)  # the clock is not trusted
    with pytest.raises(Declined) as refused:
        check(db, "sale", after, synced=True)
    assert refused.value.code == "outside_event"
    check(db, "close", after, synced=True)
    db.execute("INSERT INTO sync_state VALUES ('clock_offset_ms', '-172800000')")  # we are two days ahead
    check(db, "sale", after, synced=False)  # the collector's time is 2026-08-09: open
    db.execute("UPDATE sync_state SET value = 'not json' WHERE key = 'bundle_settings'")
    assert stored(db) == (None, None)


def test_face_sales_and_topups_are_refused_outside_checkouts_are_not(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from terminal.wallet.face_accounts import OUTSIDE_EVENT, FaceAccounts, FaceDeclined
    from terminal.wallet.journal import open_journal

    journal = open_journal(tmp_path / "j.db", terminal_id=1, event_id="e", currency="EUR")
    accounts = FaceAccounts(journal, allowance=5000, clock=lambda: _t("2026-08-12T00:00:00"))
    accounts.topup("fa-1", 2000, method="cash")  # no bundle yet: no dates known
    journal.db.execute("CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    journal.db.execute("INSERT INTO sync_state VALUES ('bundle_settings', ?), ('clock_offset_ms', '0')",
                       [json.dumps(WINDOW)])
    for attempt in (lambda: accounts.sale("fa-1", 500, score=0.9, second_factor=None, request_id="s1"),
                    lambda: accounts.topup("fa-1", 500, method="cash")):
        with pytest.raises(FaceDeclined) as refused:
            attempt()
        assert refused.value.reason == OUTSIDE_EVENT and refused.value.entry["data"]["code"] == "outside_event"
    assert accounts.balance("fa-1") == 2000
    assert accounts.checkout("fa-1", 2000)["amount"] == 2000


def test_the_terminal_reads_the_collectors_window_to_the_second() -> None:
    """What the collector writes into a bundle, the terminal reads back as the same moments: around each edge,
    both sides say the same (a sale the terminal allows is never flagged by the collector, and back)."""
    from datetime import UTC, datetime

    from sync.collector.event_window import EventWindow as CollectorWindow

    for starts, ends, grace in (("2026-08-06", "2026-08-09", 12.0), (None, "2026-08-09", 0.0),
                                ("2026-08-06", None, 36.5), ("2026-08-06", "2026-08-06", 0.25)):
        written = CollectorWindow(starts, ends, grace)
        read = from_settings({"event_window": written.as_bundle()})
        assert read is not None and read.grace_h == grace
        edges = [t for t in (read.opens, read.closes) if t is not None]
        for moment in [t + d for t in edges for d in (-1.0, 0.0, 1.0)]:
            assert read.position(moment) == written.position(datetime.fromtimestamp(moment, UTC)), moment
