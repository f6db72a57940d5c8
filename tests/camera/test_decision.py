import numpy as np
import pytest

from terminal.camera.decision import (
    AttemptCounter,
    Decision,
    DecisionPolicy,
    FactorRecord,
    Outcome,
    SecondFactor,
    decide,
    expected_fpir,
    threshold_for_fmr,
)
from terminal.camera.matcher import Candidate, SearchResult, search

POLICY = DecisionPolicy(threshold=0.5, calibrated=True, fmr=1e-6, margin=0.1, fpir_bound=0.01)


def result(*scores: float, size: int | None = None) -> SearchResult:
    cands = tuple(Candidate(f"acc{i}", s) for i, s in enumerate(scores))
    return SearchResult(cands, size if size is not None else len(scores))


def test_accepts_above_threshold_with_margin():
    d = decide(result(0.8, 0.3), POLICY)
    assert d.outcome is Outcome.ACCEPT and d.account_id == "acc0" and d.score == 0.8


def test_below_threshold_is_no_match():
    assert decide(result(0.49, 0.1), POLICY).outcome is Outcome.NO_MATCH


def test_small_margin_asks_second_factor_with_both_candidates():
    d = decide(result(0.8, 0.75), POLICY)
    assert d.outcome is Outcome.SECOND_FACTOR
    assert [c.account_id for c in d.candidates] == ["acc0", "acc1"]
    assert "margin" in d.reason


def test_uncalibrated_threshold_never_accepts_alone():
    policy = DecisionPolicy(threshold=0.5, calibrated=False)
    assert decide(result(0.99, 0.0), policy).outcome is Outcome.SECOND_FACTOR


def test_large_gallery_fpir_bound_triggers_second_factor():
    policy = DecisionPolicy(threshold=0.5, calibrated=True, fmr=1e-5, margin=0.1, fpir_bound=0.01)
    assert decide(result(0.9, 0.2, size=500), policy).outcome is Outcome.ACCEPT  # FPIR 0.005
    d = decide(result(0.9, 0.2, size=5000), policy)  # FPIR ~0.049
    assert d.outcome is Outcome.SECOND_FACTOR and "FPIR" in d.reason
    assert expected_fpir(5000, 1e-5) == pytest.approx(5000 * 1e-5, rel=0.03)


def test_empty_gallery():
    assert decide(SearchResult((), 0), POLICY).outcome is Outcome.NO_MATCH


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        DecisionPolicy(threshold=2.0)
    with pytest.raises(ValueError):
        DecisionPolicy(threshold=0.5, fmr=0.0)


def test_second_factor_phone_digits_picks_candidate_and_limits_tries():
    d = decide(result(0.8, 0.78), POLICY)
    factors = {"acc0": FactorRecord("1234"), "acc1": FactorRecord("9876")}
    sf = SecondFactor(d, factors, attempts_left=2)
    assert sf.with_phone_digits("9876").account_id == "acc1"
    sf = SecondFactor(d, factors, attempts_left=2)
    assert sf.with_phone_digits("0000").outcome is Outcome.SECOND_FACTOR
    assert sf.with_phone_digits("1111").outcome is Outcome.LOCKED
    with pytest.raises(ValueError):
        SecondFactor(d, factors).with_phone_digits("12a4")


def test_second_factor_ambiguous_digits_do_not_accept():
    d = decide(result(0.8, 0.78), POLICY)
    sf = SecondFactor(d, {"acc0": FactorRecord("1234"), "acc1": FactorRecord("1234")})
    assert sf.with_phone_digits("1234").outcome is not Outcome.ACCEPT


def test_second_factor_wristband():
    d = decide(result(0.8, 0.78), POLICY)
    sf = SecondFactor(d, {"acc0": FactorRecord(wristband_uid="04a1b2c3d4e5f6")})
    out = sf.with_wristband("04A1B2C3D4E5F6")
    assert out.outcome is Outcome.ACCEPT and out.account_id == "acc0" and "wristband" in out.reason


def test_attempt_limit_locks():
    counter = AttemptCounter(limit=2)
    assert counter.record(Decision(Outcome.RETRY)).outcome is Outcome.RETRY
    assert counter.record(Decision(Outcome.NO_MATCH)).outcome is Outcome.LOCKED


def test_threshold_for_fmr():
    impostors = np.linspace(0.0, 0.99, 1000)
    cal = threshold_for_fmr(impostors, 1e-2)
    assert (impostors >= cal.threshold).sum() <= 10 and cal.supported
    assert (impostors >= cal.threshold - 0.002).sum() > 10  # the smallest such threshold
    cal = threshold_for_fmr(impostors, 1e-4)
    assert (impostors >= cal.threshold).sum() == 0 and not cal.supported
    with pytest.raises(ValueError):
        threshold_for_fmr([], 1e-3)


def test_search_top_two_identities():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(1000, 128)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    ids = [str(i) for i in range(1000)]
    r = search(m, ids, m[42] + 0.01 * rng.normal(size=128).astype(np.float32))
    assert r.best is not None and r.best.account_id == "42" and r.best.score > 0.99
    assert r.second_score < 0.5 and r.gallery_size == 1000
    with pytest.raises(ValueError):
        search(m, ids, np.ones(64, np.float32))
