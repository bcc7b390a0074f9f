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
