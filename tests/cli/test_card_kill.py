"""`stallpay card charge` killed right before or right after its journal commit (issue 15): the emulated wristband
writes through like a real tag, so the next tap finds journal and band agreeing and nobody's band is blocked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.config import load_config
from terminal.wallet.journal import open_journal

# runs `stallpay card ...` and dies (os._exit: no cleanup, like SIGKILL) around the journal commit
_KILLED = """
import os, sys
from terminal.wallet import journal
where, argv = sys.argv[1], sys.argv[2:]
original = journal.Journal.append
def append(self, op, phase, **kw):
    if phase == "commit" and where == "before":
        os._exit(9)
    entry = original(self, op, phase, **kw)
    if phase == "commit" and where == "after":
        os._exit(9)
    return entry
journal.Journal.append = append
from terminal.cli import main
sys.exit(main(argv))
"""


def _card(capsys: pytest.CaptureFixture[str], config: str, *args: str) -> tuple[int, dict]:
    code = main(["card", *args, "--config", config, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


def _journal_balance(config: str, card_id: int) -> int:
    cfg = load_config(config)
    j = open_journal(cfg.data_dir / "journal.db", terminal_id=cfg.terminal.id, event_id=cfg.event.id,
                     currency=cfg.event.currency)
    sign = {"issue": 1, "topup": 1, "void": 1, "sale": -1, "close": -1}
    return sum(sign[e["op"]] * e["amount"] for e in j.entries(card_id=card_id) if e["phase"] == "commit")


@pytest.mark.parametrize("where", ["before", "after"])
def test_kill_around_the_journal_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    assert main(["init", "--dir", str(tmp_path), "--event", "fest", "--terminal", "3", "--mode", "cashier"]) == 0
    config = str(tmp_path / "terminal.toml")
    capsys.readouterr()
    code, issued = _card(capsys, config, "issue", "--amount-minor", "2500")
    assert code == 0
    killed = subprocess.run([sys.executable, "-c", _KILLED, where, "card", "charge", "--config", config,
                             "--amount-minor", "700"], capture_output=True, text=True, timeout=60)
    assert killed.returncode == 9, killed.stderr
    code, state = _card(capsys, config, "read")  # the next tap settles whatever was pending
    assert code == 0 and state["status"] == "active"
    assert state["balance"] == 2500 - 700  # the band was written before the journal could hear of it
    assert _journal_balance(config, issued["card_id"]) == state["balance"]
    code, after = _card(capsys, config, "charge", "--amount-minor", "100")  # not blocked as a rollback or clone
    assert code == 0 and after["balance"] == state["balance"] - 100
