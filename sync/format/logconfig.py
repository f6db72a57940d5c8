"""One logging setup for every `stallpay` process: the terminal (`serve`), the collector and the CLI.

Records go to stderr. Under systemd (`JOURNAL_STREAM` set) each line starts
with its syslog priority (`<6>` info, `<4>` warning, ...) so journald files it
at the right level, and a record is always one line: journald makes an entry
per line, so a traceback's lines are joined with a visible ` ⏎ ` into the
record that caused it. Elsewhere the format is plain and multi-line.

The level comes from `--log-level`, else `STALLPAY_LOG_LEVEL`, else the
command's default: INFO for the services (`serve`, `collector serve`),
WARNING for one-shot commands so a cashier's terminal shows only answers.
Keys and PINs are never passed to a logger; this module does not try to
scrub them after the fact.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from types import TracebackType
from typing import TextIO

LEVELS = ("debug", "info", "warning", "error", "critical")
ENV_LEVEL = "STALLPAY_LOG_LEVEL"
# logging level -> syslog priority (sd-daemon(3) prefixes)
PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}
JOINER = " ⏎ "
# libraries that are chatty at INFO; their warnings still show
QUIET = ("httpx", "httpcore", "uvicorn.access", "PIL", "matplotlib", "asyncio", "absl")


class LogLevelError(ValueError):
    pass


def priority(levelno: int) -> int:
    for level in sorted(PRIORITIES, reverse=True):
        if levelno >= level:
            return PRIORITIES[level]
    return 7


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`, one line per record, traceback included."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"<{priority(record.levelno)}>" + JOINER.join(line for line in text.splitlines() if line.strip())


def resolve_level(name: str | None = None, default: str = "info") -> int:
    name = (name or os.environ.get(ENV_LEVEL) or default).strip().lower()
    if name not in LEVELS:
        raise LogLevelError(f"log level {name!r} is not one of {', '.join(LEVELS)}")
    return getattr(logging, name.upper())


def under_journald(env: dict[str, str] | None = None) -> bool:
    return bool((os.environ if env is None else env).get("JOURNAL_STREAM"))


def configure_logging(level: str | None = None, *, default: str = "info",
                      stream: TextIO | None = None) -> logging.Handler:
    """Install the one stderr handler on the root logger (replacing an earlier one from this function)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_stallpay", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._stallpay = True  # type: ignore[attr-defined]
    if under_journald():
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    if under_journald():
        # an uncaught exception is one entry too, not a line per frame
        sys.excepthook = _log_uncaught
        threading.excepthook = lambda a: _log_uncaught(a.exc_type, a.exc_value, a.exc_traceback)
    resolved = resolve_level(level, default)
    root.setLevel(resolved)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(resolved, logging.WARNING))
    logging.captureWarnings(True)
    return handler


def _log_uncaught(kind: type[BaseException], value: BaseException | None, tb: TracebackType | None) -> None:
    if value is None or issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value or kind(), tb)
        return
    logging.getLogger("stallpay").critical("uncaught exception", exc_info=(kind, value, tb))
