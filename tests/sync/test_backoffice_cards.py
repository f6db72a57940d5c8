"""The card page's one-card refundable amount agrees with the event-wide refund rule on a simulated event
(comp credit, replacements, checkouts and refunds at the collector included)."""

from __future__ import annotations

from pathlib import Path

from sync.collector.backoffice.cards import card_page, refundable_card, search
from sync.collector.refunds import refundable
from sync.collector.storage import open_store
from sync.sim import simulate


def test_one_card_refundable_equals_the_refund_rule(tmp_path: Path) -> None:
    result = simulate(terminals=3, cards=25, sales=150, seed=11, out=tmp_path, replace_rate=0.2, refund_rate=0.2)
    assert result["books_balance"]
    store = open_store(result["database"])
    expected = {r["card_id"]: r for r in refundable(store)}
    cards = [r["card_id"] for r in store.query("SELECT DISTINCT card_id FROM entries WHERE card_id IS NOT NULL")]
    assert len(cards) > 25
    for cid in cards:
        assert refundable_card(store, cid) == expected.get(cid), cid
    some = cards[0]
    page = card_page(store, some)
    assert page is not None and page["card_id"] == some and page["history"]
    assert search(store, f" {some} ")[0]["card_id"] == some
    assert card_page(store, 999_999_999) is None and search(store, "999999999") == []
