"""Uploads carry the terminal's software version and its last self-test; the collector keeps them per terminal
and shows them on the terminals page; malformed values are dropped, the batch is still stored."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from sync.collector import terminal_report
from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.enrollment import new_pairing_code
from sync.collector.storage import Store
from terminal import __version__
from terminal.config import load_keys
from terminal.uplink.client import CollectorClient
from terminal.uplink.device_report import record_selftest
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import Cards, Term, configured_terminal


def test_upload_reports_software_and_self_test(tmp_path: Path, store: Store) -> None:
    cfg, _ = configured_terminal(tmp_path, 7)
    ts = open_terminal(cfg)
    app = create_app(store, load_keys(cfg.parent / "keys.toml"))
    client = CollectorClient("http://testserver", ts, http=TestClient(app), attempts=1)
    client.pair(new_pairing_code(store, role="cashier", vendor="Grill"))
    record_selftest(ts.config.data_dir, {"passed": False, "checks": [
        {"name": "printer", "result": "fail"}, {"name": "reader", "result": "pass"}]})
    assert (ts.config.data_dir / "selftest.json").stat().st_mode & 0o777 == 0o640
    Term(journal=ts.journal, key=ts.key, cards=Cards()).book("issue", 1, 1000, method="cash")
    assert client.upload()["batches"] >= 1
    row = store.query("SELECT software, self_test FROM terminals WHERE terminal_id = 7")[0]
    assert row["software"] == f"stallpay {__version__}"
    assert terminal_report.shown(row["self_test"])["failed"] == ["printer"]  # type: ignore[index]

    set_user(store, "ro", "correct horse 1", role="readonly")
    office = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', office.get("/login").text)
    assert token
    office.post("/login", data={"csrf": token.group(1), "username": "ro", "password": "correct horse 1"})
    page = office.get("/terminals").text
    assert f"stallpay {__version__}" in page and "failed: printer" in page
    assert re.search(r'<td class="when">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>', page)  # the last sync


def test_malformed_reports_are_dropped() -> None:
    for status in ({"software": "x" * 500}, {"software": "a\x00b"}, {"software": 7}, {}):
        assert terminal_report.software(status) is None
    for status in ({"self_test": "yes"}, {"self_test": {"passed": "yes"}}, {"self_test": {"passed": True,
                                                                                         "failed": "printer"}},
                   {"self_test": {"passed": False, "failed": ["x"] * 50}}):
        assert terminal_report.self_test(status) is None
    assert terminal_report.self_test({"self_test": {"passed": True, "at": 5, "failed": ["ok", 3, "z" * 99]}}) == \
        '{"at": "", "failed": ["ok"], "passed": true}'
    assert terminal_report.shown("{broken") is None and terminal_report.shown(None) is None
