"""Face pay stops on a terminal that may be holding templates the collector has erased.

An erasure (checkout, a guest's request, expiry) reaches a terminal only when
it syncs. A terminal that has not received a bundle with face data for longer
than the *face-sync window* therefore refuses face payment, and says why, until
it syncs again: the guest who checked out an hour ago can never be matched by a
stall that has been offline all day. Wristbands and cards are not affected.

The window is `[camera] face_sync_window_h` (default 24 h), or the collector's
`face_sync_window_h` setting from the last bundle when it is shorter, and it
never reaches past the event end + retention days: after that no template may
be used at all, synced or not.

A daily purge (`daily_purge`) runs in `stallpay serve`: expired templates,
consents of people never enrolled and confirmed erasure records past their
retention (`FacePay.purge_expired`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sync.format.periodic import Periodic

if TYPE_CHECKING:
    from terminal.camera.service import FacePay

log = logging.getLogger(__name__)

FACE_SYNCED_AT = "face_synced_at"  # sync state key: unix time of the last bundle whose face data was applied
HOUR = 3600
DAY = 86_400


def window_s(camera: Any, bundle_settings: Any) -> float:
    """The face-sync window in seconds: the configuration's, or the collector's when it is shorter."""
    hours = float(camera.face_sync_window_h)
    face = bundle_settings.get("face") if isinstance(bundle_settings, dict) else None
    bundled = face.get("face_sync_window_h") if isinstance(face, dict) else None
    if isinstance(bundled, int | float) and not isinstance(bundled, bool) and 0 < bundled < hours:
        hours = float(bundled)
    return hours * HOUR


def retention_end(camera: Any, bundle_settings: Any) -> int | None:
    """Unix time after which no template may be used: event end + retention days (the collector's, else ours)."""
    face = bundle_settings.get("face") if isinstance(bundle_settings, dict) else None
    end = face.get("event_end") if isinstance(face, dict) else None
    days = face.get("face_retention_days") if isinstance(face, dict) else None
    end = end if isinstance(end, int) and not isinstance(end, bool) and end > 0 else camera.event_end
    days = days if isinstance(days, int) and not isinstance(days, bool) and days >= 0 else camera.retention_days
    return int(end) + int(days) * DAY if end else None


def refusal(synced_at: float | None, now: float, window: float, until: int | None) -> str:
    """Why face pay is refused now ("" = it may go on). Pure, for the screens and the matcher alike."""
    if until is not None and now >= until:
        return "face pay has ended: the event's retention period is over (templates are erased)"
    if synced_at is None:  # never received face data: its gallery holds only its own enrollments, erased here
        return ""
    if now - synced_at > window:
        hours = (now - synced_at) / HOUR
        return (f"face pay is paused: no sync with the collector for {hours:.1f} h (limit {window / HOUR:g} h); "
                "erasures may be waiting. Sync this terminal, or pay with a wristband")
    return ""


def gate(state: Any, camera: Any, clock: Callable[[], float] = time.time) -> Callable[[], str]:
    """`FacePay.refusal` for a terminal whose sync state is `state` (read on every call: cheap, one row)."""

    def check() -> str:
        synced = state.get(FACE_SYNCED_AT)
        settings = state.get("bundle_settings")
        return refusal(float(synced) if isinstance(synced, int | float) else None, clock(),
                       window_s(camera, settings), retention_end(camera, settings))

    return check


def mark_synced(state: Any, now: datetime | None = None) -> None:
    state.set(FACE_SYNCED_AT, (now or datetime.now(UTC)).timestamp())


def daily_purge(face_pay: FacePay, interval_s: float = HOUR) -> Periodic:
    """`FacePay.purge_expired` now and then every `interval_s` (an hour: "daily" with margin); call `.start()`."""

    def run() -> None:
        expired = face_pay.purge_expired()
        if expired:
            log.info("face purge: %d expired templates erased", len(expired))

    return Periodic(run, interval_s, "face-purge")
