"""How long the collector keeps face data, and the schedule that enforces it.

Settings (`stallpay collector settings`): `event_end` (unix time), `face_retention_days`
(templates expire that long after the event end; shown in the consent text),
`face_sync_window_h` (terminals refuse face pay after this long without a sync),
`erasure_keep_days` (erasure records, after retention ends) and `consent_keep_days`
(journal consent entries of people never enrolled, `sync.collector.consent_retention`). The first three
travel to terminals in every bundle (`settings.face`).

`purge` runs when `collector serve` starts and then hourly (`collector_purge`), and
on demand with `stallpay collector face expire`: expired templates are erased
(an `erase` change for every terminal), and the database is scrubbed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.collector.consent_retention import redact_unenrolled_consents
from sync.collector.event import get_setting, set_setting
from sync.collector.face import expire_templates
from sync.collector.face_gallery import scrub
from sync.collector.storage import Store
from sync.format.periodic import Periodic

log = logging.getLogger(__name__)

FACE_SETTINGS: dict[str, Any] = {"event_end": 0, "face_retention_days": 7, "face_sync_window_h": 24,
                                 "erasure_keep_days": 30, "consent_keep_days": 0}
DAY = 86_400


class SettingsError(ValueError):
    """A setting value that cannot be used; the message says which and why."""


def face_settings(store: Store) -> dict[str, Any]:
    out = {}
    for key, default in FACE_SETTINGS.items():
        value = get_setting(store, key)
        out[key] = default if value is None else value
    return out


def parse_event_end(text: str) -> int:
    """Unix seconds, or an ISO date/time (UTC unless it says otherwise)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SettingsError(f"event end {text!r}: give unix seconds or an ISO date such as 2026-08-09T23:00") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def change_face_settings(store: Store, **values: Any) -> dict[str, Any]:
    """Set the given face settings (None = unchanged); checks ranges, returns all of them."""
    limits = {"event_end": (0, 2**40), "face_retention_days": (0, 3650), "face_sync_window_h": (0.001, 24 * 365),
              "erasure_keep_days": (0, 3650), "consent_keep_days": (0, 3650)}
    for key, value in values.items():
        if value is None:
            continue
        low, high = limits[key]
        if not low <= value <= high:
            raise SettingsError(f"{key} must be between {low} and {high}")
        set_setting(store, key, value)
    return face_settings(store)


def purge(store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Erase expired templates, forget what outlives its purpose, and scrub the database; what was done.

    `erasure_keep_days` after the end of retention (event end + face_retention_days), when every template has
    expired on every terminal, the erasure records and confirmations are deleted and the closed accounts lose
    their holder name and second-factor digests (the ledger keeps the money, under the pseudonymous id)."""
    now = now or datetime.now(UTC)
    expired = expire_templates(store, now)
    forgotten = 0
    s = face_settings(store)
    if s["event_end"] and now.timestamp() > s["event_end"] + (s["face_retention_days"] + s["erasure_keep_days"]) * DAY:
        cutoff = (now - timedelta(days=s["erasure_keep_days"])).isoformat(timespec="milliseconds")
        cutoff = cutoff.replace("+00:00", "Z")
        with store.transaction():
            forgotten = store.execute("DELETE FROM gallery_changes WHERE action = 'erase' AND changed_at < ?", [cutoff])
            forgotten += store.execute("DELETE FROM face_erasure_confirmations WHERE confirmed_at < ?", [cutoff])
            forgotten += store.execute("UPDATE face_accounts SET holder = '', phone_hash = '', wristband_uid = NULL "
                                       "WHERE holder <> '' OR phone_hash <> '' OR wristband_uid IS NOT NULL")
    consents = redact_unenrolled_consents(store, s["consent_keep_days"], now)
    scrubbed = scrub(store) if expired or forgotten or consents or store.scrub_pending else False
    return {"expired": expired, "forgotten": forgotten, "consents_redacted": consents, "scrubbed": scrubbed,
            "time": now.isoformat()}


def collector_purge(open_store: Callable[[], Store], interval_s: float = 3600) -> Periodic:
    """`purge` now and every `interval_s` on its own connection, until stopped (in `collector serve`)."""
    store: list[Store] = []

    def run() -> None:
        if not store:
            store.append(open_store())
        done = purge(store[0])
        if done["expired"]:
            log.info("face purge: %d expired templates erased", len(done["expired"]))

    def close() -> None:
        for opened in store:
            opened.close()

    return Periodic(run, interval_s, "collector-face-purge", cleanup=close)
