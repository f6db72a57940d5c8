"""The print queue: printing never blocks or fails a payment.

`submit` stores the job in SQLite and returns at once; a worker thread prints
jobs in order. When the printer is out of paper, has its cover open, is
unplugged or drops the connection, the job stays in the queue, a `PrinterEvent`
tells the terminal and admin screens, and the job is tried again (after a
back-off, at the next submit, or at once with `retry_now`). Jobs survive a
restart; one interrupted while printing is printed again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from terminal.i18n import N_
from terminal.printer.transport import NotSupported, PrinterNotReady, PrinterProblem, Problem, Transport
from terminal.schema import PRINT_QUEUE, migrate

log = logging.getLogger(__name__)

JobState = Literal["pending", "printing", "done", "cancelled"]
MESSAGES: dict[str, str] = {
    "paper_out": N_("Printer out of paper"),
    "cover_open": N_("Printer cover open"),
    "offline": N_("Printer error"),
    "unreachable": N_("Printer not reachable"),
    "error": N_("Printer error"),
}
KEPT = N_("Receipt kept, it will print when the printer is ready")



@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    label: str
    format: str
    payload: bytes
    state: JobState
    attempts: int
    last_error: str | None
    created: float
    printed: float | None
    reprint_of: int | None


@dataclass(frozen=True)
class PrinterEvent:
    """What the screens show: `kind` printed / problem / recovered; `message` is a catalogue msgid."""

    kind: Literal["printed", "problem", "recovered"]
    job_id: int | None
    problem: Problem | None = None
    message: str = ""
    detail: str = ""


class PrintQueue:
    def __init__(
        self,
        db_path: Path | str,
        transport: Transport,
        *,
        check_status: bool = True,
        retry_delays: Iterable[float] = (2, 5, 10, 30, 60),
    ) -> None:
        self.transport = transport
        self.check_status = check_status
        self.retry_delays = tuple(retry_delays)
        if str(db_path) != ":memory:":
            from sync.format.private_files import private_sqlite

            private_sqlite(db_path)  # receipts name cards and balances
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        migrate(self._db, PRINT_QUEUE, where=str(db_path))
        self.requeue_interrupted()
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._subscribers: list[Callable[[PrinterEvent], None]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._failures = 0
        self._retry_at = 0.0
        self.problem: PrinterEvent | None = None

    def requeue_interrupted(self) -> None:
        """A job that was printing when the power went is printed again (a receipt twice beats none)."""
        self._db.execute("update jobs set state='pending' where state='printing'")

    # --- for the application -------------------------------------------------------------

    def subscribe(self, callback: Callable[[PrinterEvent], None]) -> None:
        """Called from the worker thread for each event; keep it quick."""
        self._subscribers.append(callback)

    def start(self) -> PrintQueue:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="print-queue", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._db.close()

    def submit(self, kind: str, payload: bytes, *, label: str = "", reprint_of: int | None = None) -> int:
        """Store the job and return its id at once; the printer is not touched here."""
        with self._lock:
            cur = self._db.execute(
                "insert into jobs (kind, label, format, payload, state, created, reprint_of) "
                "values (?, ?, ?, ?, 'pending', ?, ?)",
                (kind, label or kind, self.transport.format, payload, time.time(), reprint_of),
            )
            job_id = int(cur.lastrowid)
        self.retry_now()
        return job_id

    def reprint(self, job_id: int) -> int:
        """A printed job is printed again as a new job; a waiting one is tried again now."""
        job = self.job(job_id)
        if job is None:
            raise KeyError(f"no print job {job_id}")
        if job.state in ("pending", "printing"):
            self.retry_now()
            return job.id
        return self.submit(job.kind, job.payload, label=job.label, reprint_of=job.id)

    def cancel(self, job_id: int) -> None:
        with self._lock:
            self._db.execute("update jobs set state='cancelled' where id=? and state='pending'", (job_id,))

    def retry_now(self) -> None:
        with self._wake:
            self._retry_at = 0.0
            self._wake.notify_all()

    def job(self, job_id: int) -> Job | None:
        with self._lock:
            row = self._db.execute(f"select {_COLUMNS} from jobs where id=?", (job_id,)).fetchone()
        return Job(*row) if row else None

    def jobs(self, state: JobState | None = None) -> list[Job]:
        query = f"select {_COLUMNS} from jobs" + (" where state=?" if state else "") + " order by id"
        with self._lock:
            rows = self._db.execute(query, (state,) if state else ()).fetchall()
        return [Job(*r) for r in rows]

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("select count(*) from jobs where state='pending'").fetchone()[0])

    def wait_idle(self, timeout: float) -> bool:
        """True once no job is waiting (for the CLI and tests; the terminal never waits)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self.pending_count():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def print_one(self) -> bool:
        """Print the oldest waiting job in this thread; True if it printed. Used by the worker and the CLI."""
        job = self._next()
        if job is None:
            return False
        with self._lock:
            self._db.execute("update jobs set state='printing', attempts=attempts+1 where id=?", (job.id,))
        try:
            self._deliver(job)
        except (PrinterProblem, NotSupported, OSError) as exc:
            problem = exc.problem if isinstance(exc, PrinterProblem) else "error"
            with self._lock:
                self._db.execute("update jobs set state='pending', last_error=? where id=?", (str(exc), job.id))
            self._failures += 1
            delay = self.retry_delays[min(self._failures, len(self.retry_delays)) - 1] if self.retry_delays else 0
            with self._wake:
                self._retry_at = time.monotonic() + delay
            log.warning("print job %s kept: %s", job.id, exc)
            self.problem = PrinterEvent("problem", job.id, problem, MESSAGES[problem], str(exc))
            self._emit(self.problem)
            return False
        with self._lock:
            self._db.execute(
                "update jobs set state='done', printed=?, last_error=null where id=?", (time.time(), job.id)
            )
        self._failures = 0
        if self.problem is not None:
            self.problem = None
            self._emit(PrinterEvent("recovered", job.id))
        self._emit(PrinterEvent("printed", job.id))
        with self._wake:
            self._wake.notify_all()
        return True

    # --- inside --------------------------------------------------------------------------

    def _next(self) -> Job | None:
        while True:
            with self._lock:
                row = self._db.execute(
                    f"select {_COLUMNS} from jobs where state='pending' order by id limit 1"
                ).fetchone()
                if row is None or isinstance(row[4], bytes):
                    return Job(*row) if row else None
                # a damaged record (an SD card's bad sector) is set aside, never allowed to stop the queue
                log.warning("print job %s is damaged (payload is %s): cancelled", row[0], type(row[4]).__name__)
                self._db.execute("update jobs set state='cancelled', last_error='damaged job record' where id=?",
                                 (row[0],))

    def _deliver(self, job: Job) -> None:
        t = self.transport
        t.open()
        try:
            if self.check_status:
                _refuse_if_not_ready(t)
            t.write(job.payload, f"{job.id}-{job.label}")
            if self.check_status:
                # The answer comes only after the printer has taken the job's bytes: a dropped
                # connection or paper that ran out shows here, and the job stays queued.
                _refuse_if_not_ready(t)
        finally:
            t.close()

    def _emit(self, event: PrinterEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken screen must not stop printing
                log.exception("printer event subscriber failed")

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping:
                    wait = self._retry_at - time.monotonic()
                    if wait <= 0 and self._has_pending():
                        break
                    self._wake.wait(wait if wait > 0 else None)
                if self._stopping:
                    return
            self.print_one()

    def _has_pending(self) -> bool:
        return self.pending_count() > 0


def _refuse_if_not_ready(t: Transport) -> None:
    status = t.status()
    if status is not None and status.problem is not None:
        raise PrinterNotReady(f"{t.describe()}: {MESSAGES[status.problem].lower()}", status.problem)


_COLUMNS = "id, kind, label, format, payload, state, attempts, last_error, created, printed, reprint_of"
