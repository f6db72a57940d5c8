"""`stallpay collector settings --event-starts/--event-ends/--event-grace-hours` and `events add --starts/--ends`
as a shell runs them: the dates land in the event's settings (and its bundles); a date that is no date is refused
with a message naming it, exit code 2, and nothing changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.collector.event import open_event_store
from sync.collector.event_window import stored_window

CLI = [sys.executable, "-m", "terminal.cli", "collector"]


def collector(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_settings_set_show_and_refuse_dates(tmp_path: Path) -> None:
    db = str(tmp_path / "books.db")
    assert collector("init", "--db", db, "--event-id", "fest").returncode == 0
    assert json.loads(collector("settings", "--db", db).stdout)["event_window"] is None
    done = collector("settings", "--db", db, "--event-starts", "2026-08-07", "--event-ends", "2026-08-09")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["event_window"] == {"starts": "2026-08-07", "ends": "2026-08-09", "grace_h": 12.0}
    done = collector("settings", "--db", db, "--event-grace-hours", "6")  # the dates stay
    assert json.loads(done.stdout)["event_window"] == {"starts": "2026-08-07", "ends": "2026-08-09", "grace_h": 6.0}
    before = collector("settings", "--db", db).stdout
    for args, said in ((["--event-ends", "2026-02-30"], "event end '2026-02-30': give a date as YYYY-MM-DD"),
                       (["--event-starts", "7 Aug"], "event start '7 Aug': give a date as YYYY-MM-DD"),
                       (["--event-ends", "2026-08-01"], "the event ends (2026-08-01) before it starts (2026-08-07)"),
                       (["--event-grace-hours", "-1"], "grace must be between 0 and 336 hours"),
                       (["--event-ends", "2026-08-10", "--event-grace-hours", "nan"], "grace must be between"),
                       # a good face setting beside a bad date is not written either
                       (["--face-retention-days", "30", "--event-starts", "x"], "event start 'x'")):
        refused = collector("settings", "--db", db, *args)
        assert refused.returncode == 2 and said in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr and refused.stdout == ""
    assert collector("settings", "--db", db).stdout == before
    assert collector("settings", "--db", db, "--event-starts", "").returncode == 0  # clearing a date
    store = open_event_store(db)
    try:
        window = stored_window(store)
        assert window is not None and (window.starts, window.ends) == (None, "2026-08-09")
    finally:
        store.close()


def test_events_add_writes_the_dates_into_the_new_events_settings(tmp_path: Path) -> None:
    db, keys_dir = str(tmp_path / "home.db"), tmp_path / "keys"
    keys_dir.mkdir()
    assert collector("init", "--db", db, "--event-id", "summer").returncode == 0
    add = ["events", "add", "--db", db, "--keys-dir", str(keys_dir)]
    for starts, ends, said in (("2026-12-24", "2026-13-01", "--ends '2026-13-01': give a date as YYYY-MM-DD"),
                               ("24.12.2026", "", "--starts '24.12.2026'"),
                               ("2026-12-26", "2026-12-24", "ends (2026-12-24) before it starts (2026-12-26)")):
        refused = collector(*add, "--event-id", "winter", "--starts", starts, "--ends", ends)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert [json.loads(line)["event_id"] for line in collector("events", "list", "--db", db).stdout.splitlines()] == [
        "summer"]  # nothing was created
    assert not list(tmp_path.glob("home-winter*")) and not list(keys_dir.iterdir())
    done = collector(*add, "--event-id", "winter", "--starts", "2026-12-24", "--ends", "2026-12-26")
    assert done.returncode == 0, done.stderr
    listed = [json.loads(line) for line in collector("events", "list", "--db", db).stdout.splitlines()]
    assert [(e["event_id"], e["starts"], e["ends"]) for e in listed][-1] == ("winter", "2026-12-24", "2026-12-26")
    shown = json.loads(collector("settings", "--db", str(tmp_path / "home-winter.db")).stdout)
    assert shown["event_window"] == {"starts": "2026-12-24", "ends": "2026-12-26", "grace_h": 12.0}
    # the list shows the dates in force: the event's own settings, changed later with `collector settings`
    assert collector("settings", "--db", str(tmp_path / "home-winter.db"), "--event-ends", "2026-12-27",
                     "--event-grace-hours", "3").returncode == 0
    listed = [json.loads(line) for line in collector("events", "list", "--db", db).stdout.splitlines()]
    assert [(e["event_id"], e["starts"], e["ends"], e.get("grace_h")) for e in listed] == [
        ("summer", "", "", None), ("winter", "2026-12-24", "2026-12-27", 3.0)]
