"""In Chromium against a real `collector serve` on PostgreSQL: an admin sets the dates of the home event and of a
second event on the events page, a date that ends before it starts is refused on the page, and the page (with
its screenshot artifacts/back-office/events.png) shows each event's days and grace, unclipped at 1280x800.

A module of its own, so the collector it sets dates on is not the one other browser tests sell and pair on;
the window still covers today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync.collector.event_window import stored_window
from sync.collector.storage import open_store
from tests.sync.backoffice_pages import browser, collector, desk, shot  # noqa: F401  (fixtures)
from tests.sync.backoffice_server import SIM_EVENT, Collector

SECOND = "winter-fair"


def _day(offset: int) -> str:
    return (datetime.now(UTC) + timedelta(days=offset)).date().isoformat()


def _set_dates(page: Any, event_id: str, starts: str, ends: str, grace: str) -> None:
    form = page.locator(f"#dates-{event_id}")
    page.locator("details", has=form).locator("summary").click()
    form.locator("input[name=starts]").fill(starts)
    form.locator("input[name=ends]").fill(ends)
    form.locator("input[name=grace_h]").fill(grace)
    with page.expect_navigation():
        form.locator("button").click()


def test_admin_sets_event_dates_on_the_events_page(browser: Any, collector: Collector) -> None:  # noqa: F811
    page = desk(browser, collector, "admin")
    page.goto(f"{collector.url}/events")
    assert page.locator("#events").inner_text().count("not set") == 1 and "— – —" not in page.content()

    # a second event, made on the same page, with no dates yet
    page.fill("#add-event input[name=event_id]", SECOND)
    page.fill("#add-event input[name=name]", "Winter fair")
    with page.expect_navigation():
        page.click("#add-event button")
    assert "Event created" in page.locator("p.message").inner_text()

    # refused on the page: nothing is written
    _set_dates(page, SIM_EVENT, _day(3), _day(1), "12")
    assert "cannot end before it starts" in page.locator("p.error").inner_text()
    store = open_store(collector.dsn, migrate=False)
    assert stored_window(store) is None

    # the home event runs from yesterday to the day after tomorrow; the winter fair later
    _set_dates(page, SIM_EVENT, _day(-1), _day(2), "6")
    assert "Event dates saved" in page.locator("p.message").inner_text()
    _set_dates(page, SECOND, _day(30), _day(32), "")
    window = stored_window(store)
    assert window is not None and (window.starts, window.ends, window.grace_h) == (_day(-1), _day(2), 6.0)
    assert window.is_open(datetime.now(UTC))
    rows = page.locator("#events tbody tr, #events tr").all_inner_texts()
    home_row = next(r for r in rows if SIM_EVENT in r)
    second_row = next(r for r in rows if SECOND in r)
    assert f"{_day(-1)} – {_day(2)}" in home_row and "grace 6 h" in home_row
    assert f"{_day(30)} – {_day(32)}" in second_row and "grace 12 h" in second_row
    assert "not set" not in page.locator("#events").inner_text()

    # nothing runs off the desk-sized page, with a row's form open
    page.locator("details", has=page.locator(f"#dates-{SIM_EVENT}")).locator("summary").click()
    assert page.locator(f"#dates-{SIM_EVENT} input[name=starts]").input_value() == _day(-1)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.querySelector('#events').scrollWidth]")
    assert max(widths) <= 1280, widths
    # the header stays one row with the event picker beside the nav (it wrapped under the logo before)
    header = page.evaluate("document.querySelector('header.top').getBoundingClientRect().height")
    parts = page.evaluate("[...document.querySelectorAll('header.top > *')].map(e => "
                          "[e.className || e.tagName, Math.round(e.getBoundingClientRect().width)])")
    assert header < 60, (header, parts)
    shot(page, "events")
    for language in ("tr", "bg", "zh_CN"):  # longer words: the nav may wrap, never under the logo or off the page
        page.goto(f"{collector.url}/language/{language}")
        page.goto(f"{collector.url}/events")
        header = page.evaluate("document.querySelector('header.top').getBoundingClientRect().height")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.querySelector('#events').scrollWidth]")
        shot(page, f"events-{language}")
        assert max(widths) <= 1280 and header < 60, (language, header, widths)
