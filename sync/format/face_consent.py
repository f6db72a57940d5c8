"""What a consent record pins: the version, the language, a hash of the exact text shown and the retention days.

The record id (`face-consent-v1/tr/sha256:<64 hex>/7d`) is kept with the operator and the time
(`Gallery.record_consent`) and journaled, so the collector can prove which words the guest agreed to,
including how long the template is kept, even after the catalogue's wording changes.
"""

from __future__ import annotations

import hashlib
from typing import Any


def consent_record_id(version: str, language: str, text: str, retention_days: int) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{version}/{language}/sha256:{digest}/{int(retention_days)}d"


def retention_days(bundle_settings: Any, configured: int) -> int:
    face = bundle_settings.get("face") if isinstance(bundle_settings, dict) else None
    days = face.get("face_retention_days") if isinstance(face, dict) else None
    return days if isinstance(days, int) and not isinstance(days, bool) and days >= 0 else configured
