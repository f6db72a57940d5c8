"""A guest withdraws consent at the cashier: the template is erased here at once and everywhere else through
the collector (now, or queued for the next sync), and the withdrawal is journaled (who, when, which account).

The account and its money stay (a guest who withdraws consent can still be paid out at checkout or pay with a
wristband); only the biometric data goes. The consent record stays as the proof of what was agreed until then,
and is removed with the other consents of people without a template (`[camera] consent_keep_days`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from terminal.ui.i18n import N_

if TYPE_CHECKING:
    from terminal.ui.kiosk import Kiosk

log = logging.getLogger(__name__)

WITHDRAWN_TEXT = N_("Consent withdrawn: the face template is erased")


def withdraw_consent(kiosk: Kiosk, operator: str, account_id: str) -> dict[str, Any]:
    from terminal.ui.kiosk import KioskError

    if kiosk.face is None:
        raise KioskError("no_camera", kiosk.tr(N_("Face pay is not available: pay with your wristband")))
    erased = kiosk.face.erase(account_id, "withdrawn")
    kiosk.face.journal("face_withdrawal", {"account_id": account_id, "operator": operator, "held": erased})
    collector = "kept"
    if kiosk.collector is not None:
        from terminal.uplink.client import SyncFailed

        try:
            kiosk.collector.erase_face(account_id, "withdrawn")
            collector = "done"
        except SyncFailed as exc:
            log.warning("collector erasure failed, queued: %s", exc)
    if collector != "done" and kiosk.sync is not None:
        kiosk.sync.queue_erasure(account_id, "withdrawn")
        collector = "queued"
    kiosk.publish()
    return {"account_id": account_id, "erased": erased, "collector": collector, "text": kiosk.tr(WITHDRAWN_TEXT)}
