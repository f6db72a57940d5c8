"""Every input kept in tests/fuzz/corpus/ (seeds and past crashes) replays without a crash, and a short fuzzing
session from it finds none (the campaign's full mode runs the long sessions: bench/campaign.py --full)."""

from __future__ import annotations

import pytest

from tests.fuzz.fuzzer import fuzz
from tests.fuzz.targets import TARGETS, corpus


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_corpus_replays_without_a_crash(name: str) -> None:
    inputs = corpus(name)
    assert len(inputs) >= 10, f"the {name} corpus is missing"
    for path in inputs:
        TARGETS[name](path.read_bytes())  # only the target's own refusal may happen; anything else fails here


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_short_fuzz_session_finds_no_crash(name: str) -> None:
    result = fuzz(name, 1500, seed=15, keep_crashes=False)
    assert result["executions"] == 1500
    assert result["crashes"] == 0, result["samples"]
