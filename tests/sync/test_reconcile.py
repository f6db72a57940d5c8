"""Reconciliation: clones, rollbacks, balance jumps, gaps, pending intents; suspicious cards hotlisted; refunds."""

from __future__ import annotations

from pathlib import Path

from sync.collector.event import set_setting
from sync.collector.ingest import ingest_bytes
from sync.collector.ledger import card_balances, hotlist, reconcile
from sync.collector.refunds import refund_cards, refundable
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from terminal.uplink.export import batches
from tests.sync.journals import Cards, make_terminal


def _sync(store: Store, *terms) -> None:  # type: ignore[no-untyped-def]
    for t in terms:
        for b in batches(t.journal, t.key):
            ingest_bytes(store, encode(b))


def _kinds(store: Store, card: int) -> set[str]:
    return {r["kind"] for r in store.query("SELECT kind FROM anomalies WHERE card_id = ?", [card])}


def test_clone_spent_twice_is_hotlisted(tmp_path: Path, store: Store) -> None:
    cards = Cards()
    t1, t2 = make_terminal(tmp_path, 1, cards, store), make_terminal(tmp_path, 2, cards, store)
    t1.book("issue", 5, 5000, method="cash")
    t1.book("sale", 5, 1000)
    t2.book("sale", 5, 2000, card_seq=2, balance_before=5000)  # a copy of the card in its seq-1 state
    t1.book("issue", 6, 100, method="cash")
    _sync(store, t1, t2)
    reconcile(store)
    assert "clone" in _kinds(store, 5) and _kinds(store, 6) == set()
    assert dict(hotlist(store))[5].startswith("clone")


def test_rollback_is_detected(tmp_path: Path, store: Store) -> None:
    cards = Cards()
    t1 = make_terminal(tmp_path, 1, cards, store)
    t1.book("issue", 5, 5000, method="cash")
    t1.book("sale", 5, 1000)
    t1.book("sale", 5, 1000)
    t1.book("sale", 5, 500, card_seq=2, balance_before=5000)  # card image of seq 1 restored
    _sync(store, t1)
    reconcile(store)
    assert "rollback" in _kinds(store, 5)
    assert 5 in dict(hotlist(store))


def test_balance_jump_and_gap(tmp_path: Path, store: Store) -> None:
    cards = Cards()
    t1, t2 = make_terminal(tmp_path, 1, cards, store), make_terminal(tmp_path, 2, cards, store)
    t1.book("issue", 5, 1000, method="cash")
    t1.book("sale", 5, 100, balance_before=9000)  # balance rewritten on the card
    t1.book("issue", 6, 1000, method="cash")
    t2.book("sale", 6, 100)  # t2 never syncs
    t1.book("sale", 6, 100)
    _sync(store, t1)
    reconcile(store)
    assert "balance_jump" in _kinds(store, 5) and 5 in dict(hotlist(store))
    assert _kinds(store, 6) == {"gap"} and 6 not in dict(hotlist(store))
    _sync(store, t2)
    reconcile(store)
    assert _kinds(store, 6) == set()


def test_auto_hotlist_is_configurable(tmp_path: Path, store: Store) -> None:
    set_setting(store, "auto_hotlist", [])
    cards = Cards()
    t1, t2 = make_terminal(tmp_path, 1, cards, store), make_terminal(tmp_path, 2, cards, store)
    t1.book("issue", 5, 5000, method="cash")
    t1.book("sale", 5, 1000)
    t2.book("sale", 5, 2000, card_seq=2, balance_before=5000)
    _sync(store, t1, t2)
    assert reconcile(store)["clone"] == 1
    assert hotlist(store) == []


def test_pending_intent_resolved_by_a_later_tap(tmp_path: Path, store: Store) -> None:
    cards = Cards()
    t1 = make_terminal(tmp_path, 1, cards, store)
    t1.book("issue", 5, 1000, method="cash")
    # a torn sale: intent journaled, card written, terminal died before the commit
    t1.journal.append("sale", "intent", amount=300, card_id=5, card_seq=2, balance_before=1000, balance_after=700)
    t1.journal.append("sale", "intent", amount=50, card_id=5, card_seq=3, balance_before=700, balance_after=650)
    _sync(store, t1)
    assert reconcile(store) == {"pending": 2}
    t1.journal.append("sale", "commit", amount=200, card_id=5, card_seq=3, balance_before=700, balance_after=500)
    _sync(store, t1)
    assert reconcile(store) == {"pending_landed": 1, "pending": 1}
    assert summary(store)["pending"] == 2


def test_refund_excludes_comp_and_never_exceeds_balance(tmp_path: Path, store: Store) -> None:
    cards = Cards()
    t1 = make_terminal(tmp_path, 1, cards, store)
    t1.book("issue", 1, 5000, method="cash")
    t1.book("topup", 1, 1000, method="comp")
    t1.book("sale", 1, 400)
    t1.book("issue", 2, 1000, method="comp")
    t1.book("issue", 3, 700, method="card")
    t1.book("sale", 3, 700)
    t1.book("issue", 4, 1000, method="cash")
    t1.book("sale", 4, 800)
    t1.book("topup", 4, 500, method="comp")  # comp given after spending: all of it is still on the card
    _sync(store, t1)
    rows = {r["card_id"]: r for r in refundable(store)}
    assert rows[1]["refundable"] == 5000 and rows[2]["refundable"] == 0 and 3 not in rows
    assert rows[4] == {"card_id": 4, "balance": 700, "complimentary_left": 500, "refundable": 200}
    done = refund_cards(store, [1, 4], by="desk")
    assert done == [{"card_id": 1, "refunded": 5000, "complimentary_forfeited": 600},
                    {"card_id": 4, "refunded": 200, "complimentary_forfeited": 500}]
    assert refund_cards(store, [1], by="desk") == []  # never twice
    assert dict(hotlist(store))[1] == "refunded and closed"
    s = summary(store)
    # the refunded cards are closed: nothing of them is outstanding, their comp credit is forfeited
    assert card_balances(store, [1, 4]) == {1: 0, 4: 0}
    assert s["refunded"] == 5200 and s["forfeited_complimentary"] == 1100 and s["cards_by_status"]["refunded"] == 2
    assert s["outstanding"] == 1000  # card 2's comp credit, still on an open card
    assert s["deposited"] - s["spent"] - s["refunded"] - s["forfeited_complimentary"] == s["outstanding"]
    assert s["books_balance"]


def test_checkout_at_a_terminal_splits_refund_and_forfeited_comp(tmp_path: Path, store: Store) -> None:
    cards = Cards()
    t1 = make_terminal(tmp_path, 1, cards, store)
    t1.book("issue", 1, 2000, method="cash")
    t1.book("topup", 1, 300, method="comp")
    intent = t1.journal.append("close", "intent", amount=2300, card_id=1, card_seq=3, balance_before=2300,
                               balance_after=0, data={"refund": 2000, "forfeited_comp": 300})
    t1.journal.append("close", "commit", amount=2300, ref=intent["seq"], card_id=1, card_seq=3,
                      balance_before=2300, balance_after=0, data={"refund": 2000, "forfeited_comp": 300})
    _sync(store, t1)
    s = summary(store)
    assert (s["refunded"], s["forfeited_complimentary"], s["outstanding"]) == (2000, 300, 0)
    assert s["books_balance"]


def test_card_report_names_the_holder_given_at_issue(tmp_path: Path, store: Store) -> None:
    from sync.collector.reports import run_named

    desk = make_terminal(tmp_path, 1, Cards(), store)
    intent = desk.journal.append("issue", "intent", amount=2000, card_id=5, uid="04aa", card_seq=1, balance_before=0,
                                 balance_after=2000, method="cash", operator="op1",
                                 data={"holder": "Ayşe Yılmaz · +90 555 0100"})
    desk.journal.append("issue", "commit", amount=2000, ref=intent["seq"], card_id=5, uid="04aa", card_seq=1,
                        balance_before=0, balance_after=2000, method="cash", operator="op1",
                        data={"holder": "Ayşe Yılmaz · +90 555 0100"})
    desk.cards.balance[5], desk.cards.seq[5] = 2000, 1
    desk.book("sale", 5, 300)
    _sync(store, desk)
    rows = run_named(store, "card", card=5)
    assert [r["op"] for r in rows if r["phase"] == "commit"] == ["issue", "sale"]
    assert {r["holder"] for r in rows} == {"Ayşe Yılmaz · +90 555 0100"}
    assert all("data" not in r for r in rows)
