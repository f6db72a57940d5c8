"""Receipts of the till: printed after a result in a worker (a printer problem never reaches the sale), again
on request, and the day report."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

from terminal.app.errors import TillError
from terminal.app.permissions import Permission
from terminal.app.session import Session
from terminal.app.words import N_

if TYPE_CHECKING:
    from terminal.app.port import TillPort

log = logging.getLogger(__name__)


class ReceiptDesk:
    def __init__(self, till: TillPort, printer: Any) -> None:
        self.till = till
        self.printer = printer
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="receipts")
        self.last_seq: int | None = None  # journal entry of the last approved result: its receipt on request
        self.last_spent = 0
        self.last_job: int | None = None
        self.last_job_seq: int | None = None

    def print_later(self, seq: int | None, spent: int) -> None:
        if seq is None:
            return
        self.last_seq, self.last_spent = seq, spent
        if self.printer is None:
            return
        self.worker.submit(self._print_entry, seq, spent)

    def receipt_for(self, entry: dict[str, Any], spent: int = 0) -> Any:
        from terminal.printer import journal_receipts as jr

        header = self._header(entry["operator"])
        op = entry["op"]
        if op == "sale":
            return jr.sale_receipt(entry, header)
        if op in ("topup", "issue", "replace"):
            return jr.topup_receipt(entry, header, spent_total=spent)
        if op == "void":
            voided = self.till.journal.get(entry["data"].get("voids", -1))
            return jr.void_receipt(entry, header, voided=voided)
        if op == "close":
            return jr.refund_receipt(entry, header)
        return None

    def reprint(self, session: Session) -> int:
        """The last receipt again; under the on-request policy, the first print of the last sale's receipt."""
        self.till.require(session, Permission.REPORT)
        if self.printer is not None and self.last_seq is not None and self.last_job_seq != self.last_seq:
            job = self._print_entry(self.last_seq, self.last_spent, requested=True)
            if job is not None:
                return job
        if self.printer is None or self.last_job is None:
            raise TillError("nothing_to_reprint", self.till.tr(N_("Nothing to reprint")), 404)
        return int(self.printer.queue.reprint(self.last_job))

    def day_report(self) -> Any:
        from terminal.printer.day_report import day_report

        start = datetime.combine(datetime.now().date(), dtime.min).astimezone()
        return day_report(self.till.journal.entries(), self._header(None), start=start, currency=self.till.currency)

    def report_png(self, session: Session) -> bytes:
        self.till.require(session, Permission.REPORT)
        from terminal.printer.png_render import png_bytes, render_layout

        if self.printer is None:
            raise TillError("no_printer", "no printer configured", 404)
        return png_bytes(render_layout(self.printer.layout(self.day_report())))

    def print_report(self, session: Session) -> None:
        self.till.require(session, Permission.REPORT)
        if self.printer is not None:
            self.worker.submit(lambda: self.printer.print(self.day_report(), requested=True))

    def print_statement(self, history: list[dict[str, Any]], *, card: str, balance: int,
                        holder: str | None) -> int | None:
        """A band's statement (its on-card history, balance and holder), asked for at the balance screen."""
        from terminal.printer import journal_receipts as jr

        receipt = jr.statement_receipt(history, self._header(None), card=card, balance=balance,
                                       currency=self.till.currency, holder=holder)
        return self.printer.print(receipt, requested=True)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.worker.shutdown(wait=True)

    def _header(self, operator: str | None) -> Any:
        from terminal.printer.receipt import Header

        config = self.till.config
        return Header(vendor=config.terminal.vendor, terminal_id=config.terminal.id, operator=operator,
                      event=config.event.name or config.event.id)

    def _print_entry(self, seq: int, spent: int, requested: bool = False) -> int | None:
        try:
            entry = self.till.journal.get(seq)
            receipt = self.receipt_for(entry, spent) if entry else None
            if receipt is not None:
                job = self.printer.print(receipt, requested=requested)
                if job is not None:
                    self.last_job, self.last_job_seq = job, seq
                return job
        except Exception:  # a printer problem never reaches the sale
            log.exception("could not queue the receipt for journal entry %s", seq)
        return None
