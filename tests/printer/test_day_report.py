from __future__ import annotations

from datetime import UTC, datetime

import pytest

from terminal.printer.day_report import day_report
from terminal.printer.journal_receipts import ReceiptDataError
from terminal.printer.receipt import Header
from terminal.printer.samples import sample_journal

HEADER = Header(vendor="V", terminal_id=3)


def test_totals_and_counts_from_the_sample_day() -> None:
    r = day_report(sample_journal(), HEADER)
    c = r.counts
    assert (c.sales, c.voids, c.topups, c.refunds, c.issues, c.declines) == (3, 1, 2, 1, 1, 1)
    assert (r.sales_total, r.voids_total, r.net_sales) == (2900, 1150, 1750)
    assert (r.topups_total, r.refunds_total) == (7000, 950)
    products = {t.key: (t.count, t.amount) for t in r.by_product}
    assert products == {"P0": (2, 700), "P2": (3, 1050)}  # the voided sale's wrap and lemonade are gone
    assert sum(t.amount for t in r.by_product) == r.net_sales
    assert {t.key: t.amount for t in r.topups_by_method} == {"cash": 5000, "card": 2000}
    assert {t.key: t.amount for t in r.sales_by_method} == {"card": 1750}
    assert (r.first_transaction, r.last_transaction) == ("3-1", "3-9")
    assert r.first_time == datetime(2026, 7, 18, 9, 7, tzinfo=UTC)


def test_only_commits_of_this_terminal_in_the_window_count() -> None:
    rows = sample_journal()
    other = [dict(e, terminal_id=4, seq=e["seq"] + 100) for e in rows]
    aborted = dict(rows[3], seq=50, phase="abort", amount=99999)
    r = day_report([*rows, *other, aborted], HEADER, start=datetime(2026, 7, 18, 9, 25, tzinfo=UTC))
    assert r.counts.sales == 3 and r.sales_total == 2900
    assert r.counts.topups == 0  # both top-ups were before 09:25
    assert r.first_transaction == "3-4"


def test_commit_takes_items_from_its_intent_and_void_may_name_the_intent() -> None:
    base = {"terminal_id": 3, "event_id": "e", "clock_synced": True, "operator": None, "card_id": 1, "uid": None,
            "card_seq": 1, "balance_before": None, "balance_after": None, "currency": "EUR", "method": None,
            "data": {}, "prev_hash": "", "hash": ""}
    t = "2026-07-18T10:00:00Z"
    rows = [
        dict(base, seq=1, time=t, op="sale", phase="intent", ref=None, amount=500,
             items=[{"sku": "B", "name": "Beer", "qty": 2, "unit_price": 250}]),
        dict(base, seq=2, time=t, op="sale", phase="commit", ref=1, amount=500, items=[]),
        dict(base, seq=3, time=t, op="sale", phase="intent", ref=None, amount=250,
             items=[{"sku": "B", "name": "Beer", "qty": 1, "unit_price": 250}]),
        dict(base, seq=4, time=t, op="sale", phase="commit", ref=3, amount=250, items=[]),
        dict(base, seq=5, time=t, op="void", phase="commit", ref=None, amount=250, items=[], data={"voids": 3}),
    ]
    r = day_report(rows, HEADER)
    assert [(t.key, t.count, t.amount) for t in r.by_product] == [("B", 2, 500)]
    assert r.net_sales == 500


def test_an_empty_day_and_mixed_currencies() -> None:
    r = day_report([], HEADER)
    assert r.counts.sales == 0 and r.first_transaction is None and r.by_product == ()
    rows = sample_journal()
    rows[1] = dict(rows[1], currency="BGN")
    with pytest.raises(ReceiptDataError, match="mixes currencies"):
        day_report(rows, HEADER)


def test_bad_time_is_a_clear_error() -> None:
    rows = sample_journal()
    rows[0] = dict(rows[0], time="yesterday")
    with pytest.raises(ReceiptDataError, match="not an ISO-8601 time"):
        day_report(rows, HEADER)
