"""Every string of the screens is in the four catalogues, translated, with its placeholders intact."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


@pytest.fixture(scope="module")
def ui_messages(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    pot = tmp_path_factory.mktemp("pot") / "ui.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run([str(pybabel), "extract", "-F", "babel.cfg", "-k", "N_", "-o", str(pot), "."], cwd=ROOT,
                   check=True, capture_output=True)
    with pot.open("rb") as f:
        catalog = read_po(f)
    ids = [m.id for m in catalog if m.id and any("terminal/ui" in loc or "terminal/app" in loc
                                                  for loc, _ in m.locations)]
    assert len(ids) > 100
    return ids


@pytest.mark.parametrize("language", ["tr", "bg", "zh_CN"])
def test_ui_strings_translated(ui_messages: list[str], language: str) -> None:
    with (ROOT / "terminal" / "locale" / language / "LC_MESSAGES" / "stallpay.po").open("rb") as f:
        catalog = read_po(f)
    untranslated = [m for m in ui_messages if m not in catalog or not catalog[m].string]
    assert untranslated == []
    broken = [m for m in ui_messages
              if sorted(PLACEHOLDER.findall(m)) != sorted(PLACEHOLDER.findall(catalog[m].string))]
    assert broken == []


def test_money_and_dates_follow_the_language() -> None:
    from terminal.ui.i18n import money

    assert money(1250, "EUR", "en") == "€12.50"
    assert money(1250, "EUR", "tr").replace("\xa0", " ") in ("€12,50", "12,50 €")
    assert money(1250, "EUR", "bg").replace("\xa0", " ") == "12,50 €"
    assert money(1250, "EUR", "zh") == "€12.50"
