"""Ability scoring: EAP, MAP and MLE against known abilities, with their standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration import CalibrationSpecError, calibrate
from calibration.scoring import score_persons
from tests.calibration.truth import dense_log, rmse


@pytest.fixture(scope="module")
def bank_and_log() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """True item parameters (the bank) and a 2,000-person log of 40 items scored from them."""
    log = dense_log(2_000, 40, seed=909)
    items = pd.DataFrame({"item_id": [f"I{j:04d}" for j in range(40)], "model": "2PL", "a": log.a, "b": log.b, "c": 0.0})
    return items, log.responses, log.theta


@pytest.mark.parametrize(("method", "tolerance"), [("EAP", 0.40), ("MAP", 0.40), ("MLE", 0.45)])
def test_scores_recover_abilities_and_report_matching_errors(bank_and_log, method: str, tolerance: float) -> None:
    """With 40 items the ability RMSE is about 0.35; each method's mean SE is within 20 % of its RMSE."""
    items, log, theta = bank_and_log
    scores = score_persons(log, items, method)
    finite = scores["se"].notna().to_numpy()
    assert finite.mean() > 0.99
    error = rmse(scores["theta"][finite], theta[finite])
    assert error <= tolerance
    assert scores["se"][finite].mean() == pytest.approx(error, rel=0.2)


def test_eap_from_scoring_matches_calibration_persons(bank_and_log) -> None:
    _, log, _ = bank_and_log
    result = calibrate(log, "2PL")
    scores = score_persons(log, result.items, "EAP")
    np.testing.assert_allclose(scores["theta"], result.persons["theta"], atol=1e-8)
    np.testing.assert_allclose(scores["se"], result.persons["se"], atol=1e-8)


def test_mle_of_perfect_pattern_sits_at_the_bound_without_error(bank_and_log) -> None:
    items, _, _ = bank_and_log
    perfect = pd.DataFrame({"person_id": "top", "item_id": items["item_id"], "score": 1})
    mle = score_persons(perfect, items, "MLE")
    assert mle["theta"].iloc[0] == pytest.approx(6.0) and np.isnan(mle["se"].iloc[0])
    eap = score_persons(perfect, items, "EAP")
    assert 1.5 < eap["theta"].iloc[0] < 4.0 and eap["se"].iloc[0] > 0


def test_polytomous_scoring_runs_on_graded_items() -> None:
    items = pd.DataFrame({"item_id": ["g1", "g2"], "model": "GRM", "a": [1.2, 0.9], "b": [0.0, 0.5], "c": 0.0,
                          "thresholds": [[-1.0, 0.0, 1.0], [-0.5, 1.5, np.nan]]})
    log = pd.DataFrame({"person_id": ["p", "p", "q", "q"], "item_id": ["g1", "g2", "g1", "g2"], "score": [3, 2, 0, 0]})
    scores = score_persons(log, items, "MAP")
    assert scores["theta"].iloc[0] > 0.5 > -0.5 > scores["theta"].iloc[1]


def test_unknown_items_and_methods_raise(bank_and_log) -> None:
    items, log, _ = bank_and_log
    with pytest.raises(CalibrationSpecError, match="no parameters for item"):
        score_persons(log, items.iloc[1:], "EAP")
    with pytest.raises(CalibrationSpecError, match="unknown scoring method"):
        score_persons(log, items, "WLE")  # type: ignore[arg-type]


def _eap_by_integration(items: pd.DataFrame, pattern: np.ndarray) -> tuple[float, float]:
    """The EAP and posterior sd under N(0, 1), integrated on a fine grid independent of the scorer's."""
    theta = np.linspace(-8.0, 8.0, 8001)
    p = items["c"].to_numpy() + (1 - items["c"].to_numpy()) / (
        1 + np.exp(-items["a"].to_numpy() * (theta[:, None] - items["b"].to_numpy())))
    density = np.exp(-0.5 * theta**2) * np.prod(np.where(pattern, p, 1 - p), axis=1)
    density /= density.sum()
    mean = float(density @ theta)
    return mean, float(np.sqrt(density @ (theta - mean) ** 2))


@pytest.mark.parametrize("model", ["2PL", "3PL"])
def test_eap_of_extreme_and_empty_patterns_against_integration(model: str) -> None:
    """All-correct, all-wrong and mixed patterns, in one log and each alone (where no one answered an
    item right): EAP and SE finite and within 1e-4 of direct integration (the scorer's grid, 61 points
    on ±6, is off by about 1e-6); a person with no scored row gets the prior, N(0, 1)."""
    ids = [f"i{j}" for j in range(12)]
    items = pd.DataFrame({"item_id": ids, "model": model, "a": np.linspace(0.7, 1.8, 12),
                          "b": np.linspace(-2.0, 2.0, 12), "c": 0.2 if model == "3PL" else 0.0})
    patterns = {"all_right": np.ones(12, bool), "all_wrong": np.zeros(12, bool),
                "mixed": np.arange(12) % 3 != 0}
    log = pd.DataFrame([{"person_id": person, "item_id": i, "score": int(x)}
                        for person, pattern in patterns.items() for i, x in zip(ids, pattern, strict=True)]
                       + [{"person_id": "absent", "item_id": i, "score": np.nan} for i in ids])
    scores = score_persons(log, items, "EAP").set_index("person_id")
    assert list(scores.index) == sorted([*patterns, "absent"])
    assert np.isfinite(scores.to_numpy()).all()
    for person, pattern in patterns.items():
        alone = score_persons(log[log["person_id"] == person], items, "EAP").set_index("person_id")
        mean, sd = _eap_by_integration(items, pattern)
        for table in (scores, alone):
            assert table.loc[person, "theta"] == pytest.approx(mean, abs=1e-4), person
            assert table.loc[person, "se"] == pytest.approx(sd, abs=1e-4), person
    assert scores.loc["all_right", "theta"] > 1.0 > -1.0 > scores.loc["all_wrong", "theta"]
    assert (scores.loc["absent", "theta"], scores.loc["absent", "se"]) == (pytest.approx(0.0, abs=1e-9),
                                                                           pytest.approx(1.0, abs=1e-3))
    modal = score_persons(log, items, "MAP").set_index("person_id")
    assert (modal.loc["absent", "theta"], modal.loc["absent", "se"]) == (0.0, 1.0)
    assert score_persons(log, items, "MLE").set_index("person_id").loc["absent"].isna().all()
