"""One bundle on a USB stick for every terminal still sells at each venue's own prices: the collector writes where
each terminal stands and every venue's prices into it, and each terminal installs its own venue's. Everything
travels as on a stick, through the real CLIs (subprocesses); the books balance afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.collector.catalogue_admin import save_product
from sync.collector.enrollment import enroll
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.collector.venue_prices import set_venue_price
from terminal.catalogue_store import CatalogueStore
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import Cards, Term, configured_terminal

BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _terminal(tmp_path: Path, store: Store, tid: int, role: str, cards: Cards) -> tuple[Path, Term]:
    cfg, term = configured_terminal(tmp_path, tid)
    enroll(store, tid, open_terminal(cfg).public_key, role=role, vendor="Grill")
    return cfg, Term(journal=term.journal, key=term.key, cards=cards)


def test_one_usb_bundle_gives_each_terminal_its_own_venues_prices(tmp_path: Path, store: Store,
                                                                store_target: str) -> None:
    cards = Cards()
    cashier_cfg, cashier = _terminal(tmp_path, store, 1, "cashier", cards)
    stage_cfg, stage = _terminal(tmp_path, store, 4, "sale", cards)
    camping_cfg, camping = _terminal(tmp_path, store, 5, "sale", cards)
    save_product(store, "Grill", "wurst", "Bratwurst", 450)
    save_product(store, "Grill", "fries", "Fries", 300)
    store.execute("UPDATE terminals SET venue = 'Main stage' WHERE terminal_id = 4")
    store.execute("UPDATE terminals SET venue = 'Camping' WHERE terminal_id = 5")
    set_venue_price(store, "Main stage", "Grill", "wurst", 550)
    set_venue_price(store, "Camping", "Grill", "wurst", 400)
    set_venue_price(store, "Camping", "Grill", "fries", 350)
    stick = tmp_path / "stick"
    keys = str(cashier_cfg.parent / "keys.toml")  # the event's key file (every terminal here holds the same)
    _run("stallpay-collector", "bundle", "--db", store_target, "--keys", keys, "--to", str(stick))
    bundle = json.loads((stick / "bundle.json").read_bytes())["body"]
    assert bundle["venues"]["terminals"] == {"4": "Main stage", "5": "Camping"}
    assert {p["id"]: p["price"] for p in bundle["catalogue"]["Grill"]} == {"fries": 300, "wurst": 450}

    prices = {}
    for cfg in (cashier_cfg, stage_cfg, camping_cfg):
        applied = json.loads(_run("stallpay", "sync", "apply-bundle", str(stick / "bundle.json"),
                                  "--config", str(cfg)).stdout)
        assert applied["products"] == 2
        catalogue = CatalogueStore(cfg.parent / "data" / "catalogue.db").catalogue()
        prices[cfg.parent.name] = {sku: catalogue.get(sku).price for sku in ("wurst", "fries")}
    assert prices == {"term1": {"wurst": 450, "fries": 300},  # no venue: the vendor's prices
                      "term4": {"wurst": 550, "fries": 300},  # Main stage overrides the wurst only
                      "term5": {"wurst": 400, "fries": 350}}

    # each stall sells a wurst and fries at what its till now charges; the cashier issued the bands
    cashier.book("issue", 1, 2_000, method="cash")
    cashier.book("issue", 2, 2_000, method="cash")
    for band, (term, name) in enumerate(((stage, "term4"), (camping, "term5")), start=1):
        total = sum(prices[name].values())
        term.book("sale", band, total, items=[{"sku": sku, "qty": 1, "unit_price": price}
                                              for sku, price in prices[name].items()])
    for cfg in (cashier_cfg, stage_cfg, camping_cfg):
        _run("stallpay", "sync", "export", "--to", str(stick / "batches"), "--config", str(cfg))
    _run("stallpay-collector", "ingest", str(stick / "batches"), "--db", store_target, "--quiet")
    s = summary(store)
    assert (s["deposited"], s["spent"]) == (4_000, 850 + 750)
    assert s["books_balance"] is True and s["anomalies"] == {}
    # the bundle built for one terminal is unchanged: its venue's prices are already in its catalogue
    from sync.collector.bundle import build_bundle
    from terminal.config import load_keys

    own = build_bundle(store, load_keys(Path(keys)), terminal_id=4)["body"]
    assert "venues" not in own and {p["id"]: p["price"] for p in own["catalogue"]["Grill"]}["wurst"] == 550


def test_malformed_venues_leave_the_vendors_prices() -> None:
    from sync.format.bundle import venue_of, with_venue_prices

    catalogue = {"Grill": [{"id": "wurst", "name": "Bratwurst", "price": 450}]}
    for venues in (None, 7, [], {"terminals": "x"}, {"terminals": {"4": 5}}, {"terminals": {"5": "Camping"}}):
        assert venue_of(venues, 4) == ""
    assert venue_of({"terminals": {"4": "Main stage"}}, 4) == "Main stage"
    for overrides in (None, [], {"Grill": 3}, {"Grill": {"wurst": -1}}, {"Grill": {"wurst": True}},
                      {"Grill": {"wurst": "5.50"}}, {"Bar": {"wurst": 999}}):
        assert with_venue_prices(catalogue, overrides) == catalogue
    assert with_venue_prices(catalogue, {"Grill": {"wurst": 550}})["Grill"][0]["price"] == 550
    odd = {"Grill": [{"id": ["wurst"], "price": 450}, {"price": 300}, "wurst", 7]}  # items it cannot name
    assert with_venue_prices(odd, {"Grill": {"wurst": 550}}) == odd
    assert catalogue["Grill"][0]["price"] == 450  # the bundle's own list is not changed in place
