"""Logging: priorities for journald, one entry per traceback, levels, and no key or PIN in a whole run's output."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

PIN = "730519"
NEW_PIN = "41928374"
STALLPAY = [sys.executable, "-m", "terminal.cli"]


def stallpay(*args: str, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([*STALLPAY, *args], capture_output=True, text=True, env=env, timeout=120)
    if ok:
        assert done.returncode == 0, (args, done.stderr)
    return done


def journal_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "JOURNAL_STREAM": "8:12345", "STALLPAY_LOG_LEVEL": "debug", **extra}


def test_a_whole_run_logs_with_priorities_and_never_a_key_or_pin(tmp_path: Path) -> None:
    env = journal_env(STALLPAY_PIN=PIN)
    runs = [stallpay("init", "--dir", str(tmp_path), "--event", "fest", "--terminal", "3", "--mode", "cashier",
                       env=env)]
    cfg = str(tmp_path / "terminal.toml")
    runs.append(stallpay("operator", "add", "--config", cfg, "--id", "ana", "--name", "Ana", "--role", "cashier",
                         env=env))
    for op, *more in (("issue", "--amount-minor", "3000"), ("topup", "--amount-minor", "500"),
                      ("charge", "--amount-minor", "1250"),
                      ("charge", "--amount-minor", "3000"), ("close",)):
        runs.append(stallpay("card", op, "--config", cfg, "--operator", "ana", *more, "--json", env=env,
                             ok=op != "charge" or more[-1] != "3000"))
    db = str(tmp_path / "collector.db")
    usb = tmp_path / "usb"
    runs.append(stallpay("collector", "init", "--db", db, "--event-id", "fest", env=env))
    code = stallpay("collector", "pair", "--db", db, "--vendor", "Grill", env=env)
    runs.append(code)
    runs.append(stallpay("sync", "--config", cfg, "pair", "--code", code.stdout.strip(), "--to", str(usb), env=env))
    runs.append(stallpay("sync", "--config", cfg, "export", "--to", str(usb), env=env))
    runs.append(stallpay("collector", "ingest", "--db", db, str(usb), env=env))
    summary = stallpay("collector", "report", "summary", "--db", db, "--json", env=env)
    runs.append(summary)
    books = json.loads(summary.stdout)
    assert books["books_balance"] is True and (books["deposited"], books["spent"]) == (3500, 1250)

    runs.append(stallpay("operator", "add", "--config", cfg, "--id", "sup", "--role", "supervisor", env=env))
    runs.append(serve_and_reset_pin(cfg, env))

    output = "".join(r.stdout + r.stderr for r in runs)
    keys = tomllib.loads((tmp_path / "keys.toml").read_text())
    secrets = [PIN, NEW_PIN, keys["event"]["master_key"], keys["terminal"]["signing_key"]]
    for secret in secrets:
        assert secret not in output and secret.upper() not in output
    log_lines = [line for r in runs for line in r.stderr.splitlines() if re.match(r"<\d>", line)]
    assert any("insufficient_funds" in line and line.startswith("<6>") for line in log_lines)
    assert "<6>terminal.app.admin_desk: PIN of operator ana reset by sup" in log_lines  # serve's info, journald


def serve_and_reset_pin(cfg: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`stallpay serve` as systemd runs it; a supervisor resets a PIN over HTTP; then SIGTERM."""
    proc = subprocess.Popen([*STALLPAY, "serve", "--config", cfg, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until ready (or exit: then empty)
        assert line.startswith("ready: "), proc.communicate(timeout=30)
        with httpx.Client(base_url=line.split()[1], timeout=30) as c:
            assert c.post("/api/login", json={"operator": "sup", "pin": PIN}).status_code == 200
            assert c.post("/api/operators/ana/pin", json={"pin": NEW_PIN}).status_code == 200
            assert c.post("/api/login", json={"operator": "ana", "pin": NEW_PIN}).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_traceback_is_one_journal_line(tmp_path: Path) -> None:
    probe = ("import logging\n"
             "from sync.format.logconfig import configure_logging\n"
             "configure_logging('info')\n"
             "log = logging.getLogger('terminal.probe')\n"
             "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('settlement failed')\n"
             "log.debug('not shown at info')\n"
             "raise RuntimeError('uncaught too')\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=journal_env(),
                          timeout=60)
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("<3>terminal.probe: settlement failed ⏎ Traceback") and "ZeroDivisionError" in lines[0]
    assert lines[1].startswith("<2>stallpay: uncaught exception ⏎ Traceback")
    assert lines[1].endswith("RuntimeError: uncaught too")


def test_plain_output_without_journald_and_a_bad_level_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    probe = ("import logging\nfrom sync.format.logconfig import configure_logging\nconfigure_logging('warning')\n"
             "logging.getLogger('terminal.x').warning('paper low')\nlogging.getLogger('terminal.x').info('hidden')\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING terminal\.x: paper low\n", done.stderr)
    bad = stallpay("card", "read", "--config", str(tmp_path / "none.toml"), env={**env, "STALLPAY_LOG_LEVEL": "loud"},
                   ok=False)
    assert bad.returncode == 2 and "log level 'loud' is not one of" in bad.stderr


@pytest.mark.parametrize("levelno,prefix", [(10, 7), (20, 6), (30, 4), (40, 3), (50, 2), (25, 6)])
def test_priority_mapping(levelno: int, prefix: int) -> None:
    from sync.format.logconfig import priority

    assert priority(levelno) == prefix
