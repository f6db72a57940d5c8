"""Journey 5, things going wrong at a stall, and what the person in front of the screen is told.

A wrong PIN; a guest without enough money (the balance and what is missing); a band pulled away mid-write
whose guest has gone (the vendor leaves it pending after the wait, and the band's next tap settles it); a
blocked band (what to do); a band of another event; a double tap; a page reloaded mid-payment; a printer that
is down (the receipt is queued). Nothing is charged twice and the books balance.
"""

from __future__ import annotations

from tests.journeys.conftest import books_balance, expect, free_port


def sales(terminal) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in terminal.journal() if e["op"] == "sale" and e["phase"] == "commit"]


def test_things_going_wrong_at_a_stall(collector, terminals, screens) -> None:  # type: ignore[no-untyped-def]
    stall = terminals.start(collector, role="cashier", vendor="Food Stall", leave_pending_s=2.0,
                            printer_url=f"tcp://127.0.0.1:{free_port()}")  # nothing listens: the printer is down
    screen = screens(stall, "things-going-wrong")
    page = screen.page

    # Wrong PIN: told so, and how many attempts are left.
    screen.goto("/login")
    screen.by("login-operator").fill("1")
    screen.by("login-pin").fill("0000")
    screen.click("login-submit")
    expect(screen.by("login-error")).to_contain_text("wrong PIN")
    screen.shot("wrong-pin")
    screen.login("1", "1111")

    # Not enough money: the balance and what is missing.
    screen.click("cat-Food")
    screen.click("product-BURGER")
    expect(screen.by("total")).to_have_text("€8.00")
    screen.click("charge")
    stall.tap("bob")
    expect(screen.by("reason")).to_have_text("Insufficient funds: balance €3.00, €5.00 missing")
    screen.shot("insufficient-funds")
    back = page.locator("#flow .p-declined button")

    # A blocked band: the vendor is told what to do. A band of another event is refused.
    for band, reason, step in (("dave", "send the guest to the cashier", "blocked-band"),
                               ("other", "another event", "other-event")):
        back.click()
        screen.click("charge")
        expect(screen.by("due")).to_have_text("€8.00")
        stall.tap(band)
        expect(screen.by("reason")).to_contain_text(reason)
        screen.shot(step)

    # A double tap charges once.
    back.click()
    screen.click("charge")
    expect(screen.by("due")).to_have_text("€8.00")
    stall.tap("alice")
    expect(screen.by("balance-left")).to_have_text("€42.00")
    stall.tap("alice")
    expect(page.locator("#flow .p-approved .notice")).to_contain_text("not charged again")
    # The printer is down: the approved panel says the receipt is queued.
    expect(screen.by("receipt-queued")).to_contain_text("Receipt queued")
    screen.shot("double-tap-and-receipt-queued")
    assert len(sales(stall)) == 1

    # A page reloaded mid-payment shows the same payment, and the tap charges once.
    screen.click("product-FRIES")
    expect(screen.by("total")).to_have_text("€3.50")
    screen.click("charge")
    page.reload()
    expect(screen.by("due")).to_have_text("€3.50")
    screen.shot("reloaded-mid-payment")
    stall.tap("alice")
    expect(screen.by("balance-left")).to_have_text("€38.50")
    assert len(sales(stall)) == 2

    # The band pulled away mid-write and the guest gone: after the wait, the vendor leaves it pending.
    expect(screen.by("approved")).to_be_hidden()
    screen.click("cat-Food")
    screen.click("product-FRIES")
    expect(screen.by("total")).to_have_text("€3.50")
    screen.click("charge")
    stall.tap("alice", tear=4)
    expect(screen.by("tap-again")).to_be_visible()
    screen.shot("tap-the-same-band-again")
    expect(screen.by("leave-pending")).to_be_visible(timeout=10_000)
    screen.click("leave-pending")
    expect(screen.by("flow")).to_be_hidden()
    screen.shot("left-pending")
    # The guest comes back later: the band's next tap settles the intent, exactly once.
    stall.tap("alice")
    balance = stall.state()["balance"]
    assert balance and balance["balance"] in (3500, 3850), balance
    outcome = [e for e in stall.journal() if e["op"] == "sale" and e["phase"] in ("commit", "abort")]
    assert len(outcome) == 3, outcome
    assert balance["balance"] == 3850 - (350 if outcome[-1]["phase"] == "commit" else 0)

    books_balance(collector, stall)
