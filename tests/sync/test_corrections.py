"""A correction on a card at the collector: finance or admin only, a reason required, audited, shown on the
card page and in the books as a correction, which keep balancing; a debit may not go below the band."""

from __future__ import annotations

from pathlib import Path

from sync.collector.api import create_app
from sync.collector.auth import set_user
from sync.collector.ingest import ingest_many
from sync.collector.ledger import card_balances, reconcile
from sync.collector.refunds import refundable
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import encode
from terminal.config import EventKeys
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, make_terminal
from tests.sync.office_client import office_login as _login

PASSWORD = "correct horse 1"


def test_correction_is_booked_with_its_reason_and_books_balance(tmp_path: Path, store: Store) -> None:
    term = make_terminal(tmp_path, 1, Cards(), store)
    term.book("issue", 1, 5000, method="cash")
    term.book("sale", 1, 450, items=[{"name": "Beer", "qty": 1, "unit_price": 450}])
    ingest_many(store, [("x", encode(b)) for b in batches(term.journal, term.key, batch_size=10)], workers=0)
    reconcile(store)
    for role in ("admin", "finance", "support"):
        set_user(store, role, PASSWORD, role=role)
    app = create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16), terminal_signing_key=bytes(32)))
    support, support_csrf = _login(app, "support")
    assert support.post("/cards/1/correct", data={"csrf": support_csrf, "amount": "1", "reason": "why"}
                        ).status_code == 403
    assert "Book a correction" not in support.get("/cards/1").text
    finance, csrf = _login(app, "finance")
    for amount, reason in (("2.50", ""), ("2.50", "  x "), ("abc", "overcharged"), ("0", "overcharged"),
                           ("0.001", "overcharged"), ("NaN", "overcharged"), ("-60.00", "top-up booked twice")):
        answer = finance.post("/cards/1/correct", data={"csrf": csrf, "amount": amount, "reason": reason})
        assert answer.status_code == 422, (amount, reason)
    assert finance.post("/cards/999/correct", data={"csrf": csrf, "amount": "1", "reason": "unknown card"}
                        ).status_code == 404
    answer = finance.post("/cards/1/correct", data={"csrf": csrf, "amount": "+2,50", "reason": "beer was 2.00"})
    assert answer.status_code == 303
    page = finance.get("/cards/1").text
    assert 'id="card-balance">€48.00<' in page and "beer was 2.00" in page and "€2.50" in page
    books = summary(store, check_cards=True)
    assert books["corrections"] == 250 and books["outstanding"] == 4800 and books["books_balance"], books
    assert card_balances(store, [1]) == {1: 4800} and refundable(store, [1])[0]["balance"] == 4800
    # a debit down to what the band shows is allowed, one below it is not
    assert finance.post("/cards/1/correct", data={"csrf": csrf, "amount": "-2.51", "reason": "too much"}
                        ).status_code == 422
    assert finance.post("/cards/1/correct", data={"csrf": csrf, "amount": "-2.50", "reason": "undo: wrong card"}
                        ).status_code == 303
    reconcile(store)
    books = summary(store, check_cards=True)
    assert books["corrections"] == 0 and books["outstanding"] == 4550 and books["books_balance"], books
    audit = store.query("SELECT username, detail FROM audit_log WHERE action = 'card corrected' ORDER BY at")
    assert [r["username"] for r in audit] == ["finance", "finance"] and "beer was 2.00" in audit[0]["detail"]
