"""The one place a terminal is built: every collaborator made here and passed to its constructor.

`stallpay serve` and `stallpay demo` (and the tests' demo servers) call
`open_terminal`; nothing is set on the till from outside afterwards. This
module sits above `terminal.ui` and `terminal.app` (it is the composition
root): it may import any of them, nothing imports it but the commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from terminal.app.admin_desk import Admin
from terminal.app.face_log import FaceDecisionLog
from terminal.app.till import Till
from terminal.cardloop import CardLoop
from terminal.catalogue_store import CatalogueStore
from terminal.operators import LockoutPolicy, OperatorStore
from terminal.settings_store import SettingsStore
from terminal.station import Station, identify_card
from terminal.ui.events import EventHub
from terminal.ui.screen_state import screen_state
from terminal.wallet.face_accounts import FaceAccounts
from terminal.wallet.journal import Journal

log = logging.getLogger(__name__)


@dataclass
class Terminal:
    """Everything a running terminal holds; `close` releases it in order."""

    station: Station
    kiosk: Till  # the till (named as the tests and benchmarks know it)
    card_loop: CardLoop
    admin: Admin
    simulator: Any = None
    extras: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        self.card_loop.start()
        if self.kiosk.sync_panel is not None:
            self.kiosk.sync_panel.start()

    def close(self) -> None:
        self.card_loop.stop()
        if self.kiosk.sync_panel is not None:
            self.kiosk.sync_panel.stop()
        self.kiosk.close()
        if self.kiosk.printer is not None:
            self.kiosk.printer.queue.close()
        if self.kiosk.feedback is not None:
            self.kiosk.feedback.close()
        for extra in self.extras:
            extra()
        self.station.close()


def open_face(config: Any, keys: Any, *, demo: bool = False, pipeline: Any = None,
              wallet_journal: Journal | None = None) -> Any:
    """The terminal's FacePay. No camera configured: no models are loaded. `pipeline`: an already loaded one
    (shared by several terminals in one process: tests). Every face decision is journaled (`FaceDecisionLog`)."""
    from terminal.camera.frames import NoCamera, open_source
    from terminal.camera.gallery import Gallery, board_gallery_key
    from terminal.camera.service import FacePay

    journal = FaceDecisionLog(wallet_journal)
    settings = config.camera
    if settings.source.strip() and pipeline is None:
        return FacePay.from_config(config, keys, journal=journal, demo=demo)
    gallery = Gallery(config.data_dir / "face.db", board_gallery_key(keys))
    source = open_source(settings.source) if settings.source.strip() else NoCamera()
    return FacePay(gallery, settings, pipeline, source, journal, demo=demo)


def open_terminal(config_path: Path | str, *, demo: bool = False, printer: bool = True, gpio: bool = True,
                  reader: Any = None, face_pipeline: Any = None, collector_url: str | None = None,
                  simulator_dir: Path | None = None) -> Terminal:
    """`collector_url`: None = `[collector] url` of the configuration; "" = no collector (USB sync only).
    `simulator_dir`: the demo's wristbands and faces, shown next to an emulated `reader`."""
    station = Station.open(config_path, reader=reader)
    config = station.config
    journal = station.wallet.journal
    face = _face(config, station, demo, face_pipeline)
    from terminal.uplink.terminal_side import terminal_for_app

    sync = terminal_for_app(config, station.keys, journal, face)
    till = Till(station, OperatorStore(config.data_dir / "operators.db",
                                       policy=LockoutPolicy(config.ui.lockout_failures, config.ui.lockout_s)),
                catalogue_store=CatalogueStore(config.data_dir / "catalogue.db", seed=config.catalogue),
                settings=SettingsStore(config.data_dir / "settings.db", legacy_json=config.data_dir / "ui-state.json"),
                face_accounts=FaceAccounts(journal, allowance=config.camera.offline_allowance),
                events=EventHub(), screen=screen_state, printer=_printer(config) if printer else None,
                feedback=_feedback(config) if gpio and config.gpio.enabled else None, face=face, sync=sync,
                sync_panel=_sync_panel(config, sync, collector_url), demo=demo,
                shared_face_pipeline=face_pipeline is not None)
    loop = CardLoop(station.reader, till.taps.handle_tap, identify=lambda c: identify_card(c, config),
                    on_unsupported=till.taps.unsupported_tap, on_reader=till.hardware.reader_state)
    extras: list[Callable[[], None]] = []
    if face is not None:  # expiry while running: purge now and daily (terminal.uplink.face_window)
        from terminal.uplink.face_window import daily_purge

        purge = daily_purge(face)
        purge.start()
        extras.append(purge.stop)
    return Terminal(station=station, kiosk=till, card_loop=loop, admin=Admin(till),
                    simulator=_simulator(simulator_dir, reader, loop, config, face) if simulator_dir else None,
                    extras=extras)


def _face(config: Any, station: Station, demo: bool, pipeline: Any) -> Any:
    try:
        return open_face(config, station.keys, demo=demo, pipeline=pipeline, wallet_journal=station.wallet.journal)
    except Exception as exc:  # a broken face stack never stops card payments
        log.warning("face pay unavailable: %s", exc)
        return None


def _printer(config: Any) -> Any:
    from terminal.printer.receipt_printer import ReceiptPrinter

    receipt_printer = ReceiptPrinter(config.printer, locale=config.ui.language, event_id=config.event.id,
                                     data_dir=config.data_dir)
    receipt_printer.queue.start()
    return receipt_printer


def _feedback(config: Any) -> Callable[[Callable[[], None]], Any]:
    def make(on_cancel: Callable[[], None]) -> Any:
        from terminal.gpio import Feedback

        try:
            return Feedback(config.gpio, on_cancel=on_cancel)
        except Exception as exc:  # lights are never a reason not to take payments
            log.warning("GPIO feedback unavailable: %s", exc)
            return None
    return make


def _sync_panel(config: Any, sync: Any, collector_url: str | None) -> Callable[[Till], Any]:
    from terminal.ui.sync_status import SyncPanel

    url = config.collector.url if collector_url is None else collector_url

    def make(till: Till) -> SyncPanel:
        if url:  # the background loop starts with the card loop (Terminal.start)
            return SyncPanel.for_url(till, sync, url, interval_s=config.collector.sync_interval_s)
        return SyncPanel(till, sync)
    return make


def _simulator(folder: Path, reader: Any, loop: CardLoop, config: Any, face: Any) -> Any:
    from terminal.ui.simulator import Simulator

    return Simulator(reader, loop, folder / "wristbands", product=config.reader.emulated_product, face=face,
                     faces_dir=folder / "faces")
