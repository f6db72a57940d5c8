"""Sync on the running terminal: the background upload loop, what the screens show of it, and the sales limit.

The loop is `CollectorClient.run` in a thread, on the kiosk's own journal
connection (sync takes the journal's lock around its database work, never
around the network). Each round's outcome is pushed to the screens over the
state stream when what they show changes, so no page polls. A terminal that
has not synced for longer than the limit (the collector's bundle setting, else
`[collector] max_days_unsynced`) refuses new sales, card or face, until it
syncs; top-ups, refunds, voids and balance checks go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from terminal.ui.i18n import N_

if TYPE_CHECKING:
    from terminal.app.port import TillPort
    from terminal.uplink.client import CollectorClient
    from terminal.uplink.terminal_side import TerminalSync

log = logging.getLogger(__name__)

CLOCK_TOLERANCE_MS = 2000  # the collector's clock and ours agree this closely: entries are marked clock-synced
JOIN_S = 15.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SyncPanel:
    """Owns the background sync thread of one kiosk and turns sync state into words for its screens."""

    def __init__(self, kiosk: TillPort, sync: TerminalSync, client: CollectorClient | None = None, *,
                 interval_s: float = 30.0, now: Callable[[], datetime] = _utc_now) -> None:
        self.kiosk = kiosk
        self.sync = sync
        self.client = client
        self.interval_s = interval_s
        self.now = now
        self.reachable: bool | None = None  # None: no round finished yet, or no collector at all
        self.last_error = ""
        self.rounds = 0
        self.round_done = threading.Condition()
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown: dict[str, Any] | None = None

    @classmethod
    def for_url(cls, kiosk: TillPort, sync: TerminalSync, url: str, *, interval_s: float = 30.0) -> SyncPanel:
        """A panel with its collector client: short timeouts (the kiosk asks it questions while a guest waits)
        and back-off sleeps that end at once when the terminal shuts down."""
        import httpx

        from terminal.uplink.client import CollectorClient

        panel = cls(kiosk, sync, None, interval_s=interval_s)
        http = httpx.Client(base_url=url.rstrip("/"), timeout=httpx.Timeout(10.0, connect=3.0))
        panel.client = CollectorClient(url, sync, http=http, attempts=2, backoff_s=0.2,
                                       max_backoff_s=min(30.0, interval_s), sleep=panel.stop_event.wait)
        return panel

    # --- the background loop ----------------------------------------------------------------------------

    def start(self) -> None:
        if self.client is None or self._thread is not None:
            return
        self.stop_event.clear()
        self._thread = threading.Thread(target=self.client.run, args=(self.stop_event,),
                                        kwargs={"interval_s": self.interval_s, "on_round": self._round},
                                        name="collector-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_S)
            if thread.is_alive():
                log.warning("sync thread still busy after %.0f s; leaving it (daemon)", JOIN_S)
        if self.client is not None and (thread is None or not thread.is_alive()):
            self.client.http.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _round(self, result: dict[str, Any] | None, error: Exception | None) -> None:
        try:
            self.reachable = error is None
            self.last_error = "" if error is None else str(error)[:200]
            if error is None and self.client is not None:
                self._mark_clock(abs(self.client.offset.total_seconds() * 1000) <= CLOCK_TOLERANCE_MS)
            if _shown(self.view(remember=False)) != _shown(self._shown):
                self.kiosk.publish()
        finally:
            with self.round_done:
                self.rounds += 1
                self.round_done.notify_all()

    def _mark_clock(self, synced: bool) -> None:
        """Entries from now on say whether our clock agreed with the collector's (the Clock itself is immutable)."""
        from terminal.wallet.journal import Clock

        journal = self.sync.journal
        if bool(journal.clock.synced) != synced and type(journal.clock) is Clock:
            with self.sync.db_lock:
                journal.clock = Clock(synced=synced)

    def wait_rounds(self, count: int, timeout: float) -> bool:
        """Until `count` rounds have finished (tests and the benchmark await this instead of sleeping)."""
        with self.round_done:
            return self.round_done.wait_for(lambda: self.rounds >= count, timeout)

    # --- the sales limit -------------------------------------------------------------------------------------

    def check_sale(self) -> None:
        """Raise TillError when sales must wait for a sync."""
        from terminal.app.errors import TillError

        st = self.sync.overview(self.now())
        if st["sales_blocked"]:
            raise TillError("sync_needed", self._blocked_text(st), 409)

    def _blocked_text(self, st: dict[str, Any]) -> str:
        days = _days(st["days_since_sync"])
        if st["never_synced"]:
            return self.kiosk.tr(N_("sync needed before more sales: never synced, first sale %(days)s days ago")) \
                % {"days": days}
        return self.kiosk.tr(N_("sync needed before more sales: last sync %(days)s days ago")) % {"days": days}

    # --- what the screens show ---------------------------------------------------------------------------------

    def view(self, *, remember: bool = True) -> dict[str, Any]:
        tr = self.kiosk.tr
        st = self.sync.overview(self.now())
        if self.client is None:
            collector = tr(N_("offline only (USB)"))
        elif self.reachable is None:
            collector = tr(N_("not tried yet"))
        elif self.reachable:
            collector = tr(N_("reachable"))
        else:
            collector = tr(N_("not reachable")) + (f": {self.last_error}" if self.last_error else "")
        ago = self._ago(st["last_sync"])
        clock = tr(N_("clock ✓")) if st["clock_synced"] else tr(N_("clock ✗"))
        limit = st["max_days_unsynced"]
        view = {
            "unsynced": st["unsynced_entries"],
            "last_sync": st["last_sync"],
            "last_sync_text": ago,
            "days_since_sync": st["days_since_sync"],
            "days_text": "" if st["days_since_sync"] is None else _days(st["days_since_sync"]),
            "clock_synced": st["clock_synced"],
            "clock_text": clock,
            "collector": self.client.url if self.client is not None else "",
            "reachable": self.reachable,
            "collector_text": collector,
            "pending_erasures": self.sync.pending_erasures(),
            **self._refused_credits(),
            "max_days_unsynced": limit,
            "limit_text": tr(N_("%(days)s days")) % {"days": _days(limit)} if limit else tr(N_("no limit")),
            "sales_blocked": st["sales_blocked"],
            "blocked_text": self._blocked_text(st) if st["sales_blocked"] else "",
            "line": " · ".join((tr(N_("unsynced %(n)s")) % {"n": st["unsynced_entries"]},
                                tr(N_("last sync %(ago)s")) % {"ago": ago}, clock)),
        }
        if remember:
            self._shown = view
        return view

    def _refused_credits(self) -> dict[str, Any]:
        """Face top-ups taken here that the collector did not credit (its last bundle says which): never silent."""
        refused = [r for r in self.sync.state.get("face_refused_credits", []) or [] if isinstance(r, dict)]
        total = sum(r["amount"] for r in refused if isinstance(r.get("amount"), int))
        if not refused:
            return {"refused_credits": 0, "refused_credits_text": self.kiosk.tr(N_("none"))}
        text = self.kiosk.tr(N_("%(n)s face top-ups (%(amount)s) NOT credited by the collector: this terminal "
                                "is not paired as a cashier")) % {"n": len(refused), "amount": self.kiosk.money(total)}
        return {"refused_credits": len(refused), "refused_credits_text": text}

    def _ago(self, last: str | None) -> str:
        tr = self.kiosk.tr
        if last is None:
            return tr(N_("never"))
        seconds = (self.now() - datetime.fromisoformat(last.replace("Z", "+00:00"))).total_seconds()
        if seconds < 60:
            return tr(N_("just now"))
        if seconds < 3600:
            return tr(N_("%(n)s min ago")) % {"n": int(seconds // 60)}
        if seconds < 48 * 3600:
            return tr(N_("%(n)s h ago")) % {"n": int(seconds // 3600)}
        return tr(N_("%(n)s days ago")) % {"n": int(seconds // 86400)}


def _shown(view: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a screen would render differently (the fractional day count alone is not worth a push)."""
    return None if view is None else {k: v for k, v in view.items() if k != "days_since_sync"}


def _days(days: float | None) -> str:
    """Whole days from one on ("3"), one decimal below ("0.5")."""
    if days is None:
        return ""
    return str(int(days)) if days >= 1 else f"{days:.1f}"
