"""The print queue against a network printer on 127.0.0.1: printing never costs a sale."""

from __future__ import annotations

import threading
import time

import pytest

from terminal.config import PrinterSection
from terminal.printer.network import NetworkTransport
from terminal.printer.print_queue import PrinterEvent, PrintQueue
from terminal.printer.receipt_printer import ReceiptPrinter
from terminal.printer.samples import samples
from tests.printer.escpos_reader import decode


class Events:
    def __init__(self) -> None:
        self.seen: list[PrinterEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: PrinterEvent) -> None:
        with self._cond:
            self.seen.append(event)
            self._cond.notify_all()

    def wait(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[PrinterEvent]:
        with self._cond:
            ok = self._cond.wait_for(lambda: len([e for e in self.seen if e.kind == kind]) >= count, timeout)
        assert ok, f"no {kind!r} event; saw {self.seen}"
        return [e for e in self.seen if e.kind == kind]


@pytest.fixture
def receipts(tmp_path, printer_server):
    settings = PrinterSection(url=printer_server.url, width=80)
    printer = ReceiptPrinter(settings, data_dir=tmp_path, retry_delays=(60,))
    printer.queue.transport.status_timeout = 2.0
    events = Events()
    printer.queue.subscribe(events)
    printer.queue.start()
    yield printer, events
    printer.queue.close()


def test_a_receipt_prints_with_its_cut(receipts, printer_server) -> None:
    printer, events = receipts
    job = printer.print(samples("sale"))
    events.wait("printed")
    out = decode(printer_server.wait_jobs(1)[0], printer.paper.profile)
    assert "TOTAL" in "\n".join(out.text) and out.cuts == 1
    assert printer.queue.job(job).state == "done"


def test_paper_out_keeps_the_job_and_prints_it_when_paper_is_loaded(receipts, printer_server) -> None:
    printer, events = receipts
    printer_server.paper = False
    started = time.monotonic()
    job = printer.print(samples("sale"))  # the sale is not held up by the printer
    assert time.monotonic() - started < 0.5
    problem = events.wait("problem")[0]
    assert (problem.problem, problem.message) == ("paper_out", "Printer out of paper")
    assert printer.queue.problem is not None
    kept = printer.queue.job(job)
    assert kept.state == "pending" and "paper" in kept.last_error
    assert printer_server.jobs == []  # nothing was sent to a printer without paper

    printer_server.paper = True
    printer.queue.reprint(job)
    events.wait("printed")
    events.wait("recovered")
    assert printer.queue.job(job).state == "done" and printer.queue.problem is None
    assert decode(printer_server.wait_jobs(1)[0]).cuts == 1


def test_cover_open_is_reported(receipts, printer_server) -> None:
    printer, events = receipts
    printer_server.cover_open = True
    printer.print(samples("topup"))
    assert events.wait("problem")[0].problem == "cover_open"


def test_connection_dropped_mid_job_is_printed_again_in_full(receipts, printer_server) -> None:
    printer, events = receipts
    printer_server.drop_after = 200
    job = printer.print(samples("sale"))
    assert events.wait("problem")[0].problem == "unreachable"
    assert printer.queue.job(job).state == "pending"
    printer.queue.retry_now()
    events.wait("printed")
    jobs = printer_server.wait_jobs(2)
    assert len(jobs[0]) <= 200 and decode(jobs[0]).cuts == 0  # the torn copy
    full = decode(jobs[1], printer.paper.profile)
    assert full.cuts == 1 and "Thank you!" in "\n".join(full.text)


def test_reprint_of_a_printed_job_prints_it_again(receipts, printer_server) -> None:
    printer, events = receipts
    job = printer.print(samples("refund"))
    events.wait("printed")
    again = printer.queue.reprint(job)
    assert again != job and printer.queue.job(again).reprint_of == job
    events.wait("printed", 2)
    first, second = printer_server.wait_jobs(2)
    assert first == second


def test_jobs_survive_a_restart(tmp_path, printer_server) -> None:
    unreachable = NetworkTransport("127.0.0.1", 1, timeout=1)
    q = PrintQueue(tmp_path / "printqueue.db", unreachable)
    job = q.submit("sale", b"\x1b@hello\n\x1dV\x00")
    assert not q.print_one()  # printer missing: the job stays
    q.close()

    q = PrintQueue(tmp_path / "printqueue.db", NetworkTransport("127.0.0.1", printer_server.port))
    try:
        assert [j.id for j in q.jobs("pending")] == [job]
        assert q.print_one()
        assert q.job(job).state == "done" and q.job(job).attempts == 2
    finally:
        q.close()
    assert decode(printer_server.wait_jobs(1)[0]).text == ["hello"]


def test_unknown_job_cannot_be_reprinted(tmp_path) -> None:
    q = PrintQueue(tmp_path / "q.db", NetworkTransport("127.0.0.1", 1))
    try:
        with pytest.raises(KeyError, match="no print job 42"):
            q.reprint(42)
    finally:
        q.close()


def test_on_request_receipts_are_only_printed_when_asked(tmp_path) -> None:
    printer = ReceiptPrinter(PrinterSection(receipt="on_request", url=f"png:{tmp_path / 'out'}"), data_dir=tmp_path)
    try:
        assert printer.print(samples("sale")) is None
        assert printer.print(samples("sale"), requested=True) is not None
        assert printer.print(samples("topup")) is not None  # a top-up always prints
    finally:
        printer.queue.close()
