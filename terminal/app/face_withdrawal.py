"""A guest withdraws consent at the cashier: the template is erased here at once and everywhere else through
the collector (now, or queued for the next sync), and the withdrawal is journaled (who, when, which account).

The account and its money stay (a guest who withdraws consent can still be paid out at checkout or pay with a
wristband); only the biometric data goes. The consent record stays as the proof of what was agreed until then,
and is removed with the other consents of people without a template (`[camera] consent_keep_days`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from terminal.app.errors import TillError
from terminal.app.words import N_

if TYPE_CHECKING:
    from terminal.app.port import FaceDeskPort

log = logging.getLogger(__name__)

WITHDRAWN_TEXT = N_("Consent withdrawn: the face template is erased")


def withdraw_consent(till: FaceDeskPort, operator: str, account_id: str) -> dict[str, Any]:
    if till.face is None:
        raise TillError("no_camera", till.tr(N_("Face pay is not available: pay with your wristband")))
    erased = till.face.erase(account_id, "withdrawn")
    till.face.journal("face_withdrawal", {"account_id": account_id, "operator": operator, "held": erased})
    collector = "kept"
    if till.collector is not None:
        from terminal.uplink.client import SyncFailed

        try:
            till.collector.erase_face(account_id, "withdrawn")
            collector = "done"
        except SyncFailed as exc:
            log.warning("collector erasure failed, queued: %s", exc)
    if collector != "done" and till.sync is not None:
        till.sync.queue_erasure(account_id, "withdrawn")
        collector = "queued"
    till.publish()
    return {"account_id": account_id, "erased": erased, "collector": collector, "text": till.tr(WITHDRAWN_TEXT)}
