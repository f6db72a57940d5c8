"""Journey 4, the canteen, with the organizer's collector on PostgreSQL.

Staff log in by role: the vendor sells with price keys and the keypad. A guest reports a lost card at the
cashier terminal; the organizer blocks another from the collector. After the next sync and bundle, the stall
refuses both. The owner reads the daily and monthly reports, and the books balance.
"""

from __future__ import annotations

from tests.journeys.conftest import books_balance, expect, wait_for


def test_canteen_roles_price_keys_lost_cards_and_monthly_report(pg_collector, terminals, screens) -> None:  # type: ignore[no-untyped-def]
    collector = pg_collector
    desk = terminals.start(collector, role="cashier", vendor="Canteen desk")
    counter = terminals.start(collector, vendor="Canteen counter")
    cashier = screens(desk, "canteen")
    vendor = screens(counter, "canteen")

    # The vendor's role: sale screen, no cashier tab.
    vendor.login("1", "1111")
    expect(vendor.page.locator("nav a[href='/cashier']")).to_have_count(0)
    vendor.click("cat-Drinks")
    vendor.click("product-COFFEE")
    vendor.click("product-WATER")
    expect(vendor.by("total")).to_have_text("€4.50")
    vendor.shot("price-keys")
    vendor.click("charge")
    counter.tap("alice")
    expect(vendor.by("balance-left")).to_have_text("€45.50")
    alice = counter.state()["flow"]["result"]["card_id"]
    vendor.click("tab-keypad")
    vendor.by("amount-input").fill("3.20")
    vendor.click("add-amount")
    vendor.click("charge")
    counter.tap("carol")
    expect(vendor.by("balance-left")).to_have_text("€16.80")
    vendor.shot("keypad-sale")
    counter.tap("bob")
    bob = wait_for(lambda: (counter.state()["balance"] or {}).get("card_id"), "bob's balance shown")

    # A lost card reported at the cashier terminal (the cashier's role has the desk).
    cashier.login("2", "2222")
    cashier.click("tab-replace")
    cashier.by("lost-card").fill(str(alice))
    cashier.click("report-lost")
    expect(cashier.by("lost-result")).to_contain_text(f"#{alice}")
    cashier.shot("lost-card-reported")
    # ... and one blocked by the organizer at the collector.
    collector.cli("block", "--card", str(bob), "--reason", "lost")

    desk.synced()

    def refused(band: str) -> bool:
        counter.tap(band)
        view = counter.state()["balance"] or {}
        return view.get("code") == "blocked"

    wait_for(lambda: refused("alice"), "the counter refuses the card reported at the desk")
    wait_for(lambda: refused("bob"), "the counter refuses the card blocked at the collector")
    expect(vendor.by("balance-error")).to_contain_text("cashier")
    vendor.shot("blocked-card-refused")

    summary = books_balance(collector, desk, counter)
    daily = collector.report("daily")
    monthly = collector.report("monthly")
    assert sum(r["net"] for r in daily) == sum(r["net"] for r in monthly) == summary["spent"] == 450 + 320
    assert sum(r["sales"] for r in monthly) == 2 and all(len(r["month"]) == 7 for r in monthly)
