"""Face decisions in the journal: every match, refusal, consent, enrollment and erasure, as an info entry with
its scores (never an image or a template), so the collector sees what the camera decided."""

from __future__ import annotations

import logging

from terminal.wallet.journal import Journal

log = logging.getLogger(__name__)


class FaceDecisionLog:
    """The `journal` callback a FacePay is built with."""

    def __init__(self, journal: Journal | None) -> None:
        self.journal = journal

    def __call__(self, kind: str, record: dict[str, object]) -> None:
        log.debug("%s %s", kind, record)  # the journal keeps it; no per-decision lines in the system log
        if self.journal is None:
            return
        operator = record.get("operator")
        self.journal.append("face", "info", operator=operator if isinstance(operator, str) else None,
                            data={"event": kind, **{k: v for k, v in record.items() if k != "operator"}})
