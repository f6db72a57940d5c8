"""The state of the terminal's devices, for the screens and the admin page: reader, printer, lights, camera."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from terminal.app.words import N_
from terminal.station import Station

if TYPE_CHECKING:
    from terminal.app.port import TillPort


class HardwareStatus:
    def __init__(self, till: TillPort, station: Station, printer: Any, feedback: Any, face: Any) -> None:
        self.till = till
        self.station = station
        self.printer = printer
        self.feedback = feedback
        self.face = face
        self.reader_ok = True
        self.reader_message = ""
        self.printer_problem: str | None = None

    def reader_state(self, ok: bool, message: str) -> None:
        """The card loop's word on the reader (unplugged, pcscd down, back)."""
        self.reader_ok, self.reader_message = ok, message
        self.till.publish()

    def printer_event(self, event: Any) -> None:
        self.printer_problem = self.till.tr(event.message) if event.kind == "problem" and event.message else None
        self.till.publish()

    def queued_text(self) -> str:
        """On the approved panel while the printer is down: the receipt waits in the queue, the sale is done."""
        if not self.printer_problem:
            return ""
        return self.till.tr(N_("Receipt queued: it prints when the printer is back")) + f" ({self.printer_problem})"

    def status(self) -> dict[str, Any]:
        printer = None
        if self.printer is not None:
            printer = {"target": self.printer.transport.describe(), "pending": self.printer.queue.pending_count(),
                       "problem": self.printer_problem}
        return {"reader": {"name": getattr(self.station.reader, "name", "?"), "ok": self.reader_ok,
                           "message": self.reader_message},
                "printer": printer,
                "gpio": self.feedback.status() if self.feedback is not None else None,
                "camera": self._camera(),
                "pending_intents": len(self.till.wallet.pending())}

    def _camera(self) -> dict[str, Any] | None:
        if self.face is None:
            return None
        st = self.face.status()
        return {"state": st.state.value, "detail": st.detail, "usable": st.usable,
                "liveness_off": self.face.liveness_off, "enrolled": len(self.face.gallery)}
