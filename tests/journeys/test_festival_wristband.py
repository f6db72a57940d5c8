"""Journey 1, the festival wristband.

Ana gets a wristband at the cashier with her name on it and €30 in cash, tops up €20 more, buys a beer by its
tile and a €7.50 snack by keypad at a stall, checks her balance by tapping the stall's idle login screen, loses
the band (the cashier reads the old band and moves its money to a new one; the old one is refused), and at the
end of the festival gets her money back with the amount shown on screen before the tap. Both terminals sync
and the collector's books balance.
"""

from __future__ import annotations

from tests.journeys.conftest import books_balance, expect, wait_for


def test_festival_wristband_from_issue_to_refund(collector, terminals, screens) -> None:  # type: ignore[no-untyped-def]
    cashier_point = terminals.start(collector, role="cashier", vendor="Cashier")
    stall = terminals.start(collector, vendor="Beer Stall")
    cashier = screens(cashier_point, "festival-wristband")
    vendor = screens(stall, "festival-wristband")

    # Issue with the holder's name, €30 cash.
    band = cashier_point.new_band("Ana's wristband")
    cashier.login("2", "2222")
    cashier.click("tab-issue")
    cashier.by("issue-holder").fill("Ana Lima")
    cashier.by("issue-amount").fill("30")
    cashier.click("issue-cash")
    expect(cashier.by("due")).to_have_text("€30.00")
    cashier.shot("issue-tap-wristband")
    cashier_point.tap(band)
    expect(cashier.by("balance-left")).to_have_text("€30.00")
    card_id = cashier_point.state()["flow"]["result"]["card_id"]
    expect(cashier.by("result-card")).to_have_text(f"#{card_id}")
    cashier.shot("issued")
    expect(cashier.by("approved")).to_be_hidden()  # the result closes itself for the next guest

    # Top-up €20: the receipt says loaded, balance now and spent so far.
    cashier.click("tab-topup")
    cashier.by("topup-amount").fill("20")
    cashier.click("topup-cash")
    cashier_point.tap(band)
    expect(cashier.by("balance-left")).to_have_text("€50.00")
    cashier.shot("topped-up")
    wait_for(lambda: list((cashier_point.dir / "data" / "receipts").glob("*.png")), "the top-up receipt printed")

    # Sales at the stall: a product tile, then an amount keyed in.
    vendor.login("1", "1111")
    vendor.click("product-BEER")
    vendor.click("charge")
    stall.tap(band)
    expect(vendor.by("balance-left")).to_have_text("€45.50")
    vendor.shot("beer-by-tile")
    vendor.click("tab-keypad")
    for key in "7.50":
        vendor.page.locator(f"#keypad [data-key='{key}']").click()
    vendor.click("add-amount")
    expect(vendor.by("total")).to_have_text("€7.50")
    vendor.click("charge")
    stall.tap(band)
    expect(vendor.by("balance-left")).to_have_text("€38.00")
    vendor.shot("snack-by-keypad")

    # Balance on tap while the stall is idle, logged out: the holder named at the cashier reaches the stall
    # in the collector's bundle.
    expect(vendor.by("approved")).to_be_hidden()
    vendor.logout()
    cashier_point.synced()
    wait_for(lambda: (stall.tap(band), (stall.state()["balance"] or {}).get("holder"))[1] == "Ana Lima",
             "the stall knows the holder from its bundle")
    expect(vendor.by("balance-amount")).to_have_text("€38.00")
    expect(vendor.by("balance-card")).to_have_text(f"#{card_id}")
    expect(vendor.by("balance-holder")).to_have_text("Ana Lima")
    expect(vendor.by("balance-cap")).to_have_text("Maximum balance on this band: €250.00")
    vendor.shot("balance-on-login-screen")
    expect(vendor.by("balance")).to_be_hidden()  # and it closes itself

    # Lost band: the cashier reads the old band and moves its money (and comp part) to a new one. The top-up tab
    # says each tier's cap (an NTAG band holds less than a DESFire card); the statement prints from the overlay.
    cashier.click("tab-topup")
    expect(cashier.by("tier-caps")).to_contain_text("€250.00 on a wristband (NTAG), €500.00 on a DESFire card")
    printed = len(list((cashier_point.dir / "data" / "receipts").glob("*.png")))
    cashier_point.tap(band)
    expect(cashier.by("balance-holder")).to_contain_text("Ana Lima")
    expect(cashier.by("balance-amount")).to_have_text("€38.00")
    cashier.shot("old-band-read")
    cashier.click("print-statement")
    wait_for(lambda: len(list((cashier_point.dir / "data" / "receipts").glob("*.png"))) > printed,
             "the statement printed")
    cashier.click("replace-shown")
    expect(cashier.by("due")).to_have_text("€38.00")
    new_band = cashier_point.new_band("Ana's new wristband")
    cashier_point.tap(new_band)
    expect(cashier.by("balance-left")).to_have_text("€38.00")
    new_id = cashier_point.state()["flow"]["result"]["card_id"]
    assert new_id != card_id
    cashier.shot("replaced")
    expect(cashier.by("approved")).to_be_hidden()
    cashier_point.tap(band)  # the old band is refused from now on, and labelled as replaced
    expect(cashier.by("balance-error")).to_contain_text("blocked")
    expect(cashier.by("balance-error-card")).to_have_text(f"#{card_id}")
    expect(cashier.by("balance-error-status")).to_have_text(f"Replaced by #{new_id}")
    cashier.shot("old-band-refused")
    expect(cashier.by("balance")).to_be_hidden()

    # Refund at checkout: the amount is shown before the band is tapped.
    cashier.click("tab-close")
    cashier_point.tap(new_band)
    expect(cashier.by("refund-shown")).to_contain_text("€38.00")
    cashier.shot("refund-shown")
    cashier.click("refund-shown")
    expect(cashier.by("due")).to_have_text("€38.00")
    cashier_point.tap(new_band)
    expect(cashier.by("approved")).to_be_visible()
    expect(cashier.page.locator("#flow .p-approved .refund-only")).to_contain_text("€38.00")
    cashier.shot("refunded")

    summary = books_balance(collector, cashier_point, stall)
    assert summary["refunded_at_checkout"] >= 3800 and summary["spent"] >= 1200
    card = collector.report("card", "--card", str(new_id))
    assert any(row.get("op") == "close" for row in card), card
