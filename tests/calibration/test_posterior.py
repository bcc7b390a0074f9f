"""The incremental grid posterior: equal to batch EAP scoring, and recovering known abilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration import CalibrationSpecError
from calibration.posterior import GridPosterior
from calibration.scoring import score_persons
from tests.calibration.truth import dense_log, rmse


@pytest.mark.parametrize(("prior_mean", "prior_sd"), [(0.0, 1.0), (0.4, 1.3)])
def test_one_answer_at_a_time_equals_batch_eap(prior_mean: float, prior_sd: float) -> None:
    log = dense_log(30, 25, seed=41, guessing=True)
    items = pd.DataFrame({"item_id": [f"I{j:04d}" for j in range(25)], "model": "3PL",
                          "a": log.a, "b": log.b, "c": log.c})
    batch = score_persons(log.responses, items, "EAP", prior_mean=prior_mean, prior_sd=prior_sd)
    by_item = items.set_index("item_id")
    for person, answers in log.responses.groupby("person_id"):
        posterior = GridPosterior(prior_mean, prior_sd)
        for item_id, score in zip(answers["item_id"], answers["score"], strict=True):
            row = by_item.loc[item_id]
            posterior.update(row["a"], row["b"], row["c"], int(score))
        expected = batch.set_index("person_id").loc[person]
        assert posterior.theta == pytest.approx(expected["theta"], abs=1e-6)
        assert posterior.se == pytest.approx(expected["se"], abs=1e-6)


def test_graded_answers_equal_batch_eap() -> None:
    items = pd.DataFrame({"item_id": ["g1", "g2"], "model": "GRM", "a": [1.2, 0.9], "b": [0.0, 0.5],
                          "c": 0.0, "thresholds": [[-1.0, 0.0, 1.0], [-0.5, 1.5, np.nan]]})
    patterns = {"p0": (0, 0), "p1": (1, 2), "p2": (2, 1), "p3": (3, 2)}
    log = pd.DataFrame([{"person_id": p, "item_id": i, "score": s}
                        for p, scores in patterns.items() for i, s in zip(("g1", "g2"), scores, strict=True)])
    batch = score_persons(log, items, "EAP").set_index("person_id")
    for person, (first, second) in patterns.items():
        posterior = GridPosterior()
        posterior.update_polytomous("GRM", 1.2, [-1.0, 0.0, 1.0], first)
        posterior.update_polytomous("GRM", 0.9, [-0.5, 1.5, np.nan], second)
        assert posterior.theta == pytest.approx(batch.loc[person, "theta"], abs=1e-6)
        assert posterior.se == pytest.approx(batch.loc[person, "se"], abs=1e-6)


def test_forty_answers_recover_known_abilities() -> None:
    """40 2PL items: EAP RMSE about 0.35 against the true θ; the mean posterior sd matches it."""
    log = dense_log(400, 40, seed=7)
    matrix = log.responses.pivot(index="person_id", columns="item_id", values="score").to_numpy()
    estimates, errors = [], []
    for answers in matrix:
        posterior = GridPosterior()
        for a, b, score in zip(log.a, log.b, answers, strict=True):
            posterior.update(a, b, 0.0, int(score))
        estimates.append(posterior.theta)
        errors.append(posterior.se)
    error = rmse(estimates, log.theta)
    assert error <= 0.40
    assert np.mean(errors) == pytest.approx(error, rel=0.2)


def test_bad_scores_and_priors_name_the_field() -> None:
    with pytest.raises(CalibrationSpecError) as caught:
        GridPosterior().update(1.0, 0.0, 0.0, 2)
    assert caught.value.field == "score"
    with pytest.raises(CalibrationSpecError) as caught:
        GridPosterior(prior_sd=0.0)
    assert caught.value.field == "prior_sd"
