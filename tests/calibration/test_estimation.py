"""Parameter recovery with known truth: 2PL, 3PL, GRM, GPCM and mixed models in one run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration import CalibrationConfig, CalibrationSpecError, CalibrationWarning, calibrate
from calibration.simulate import simulate_dichotomous, simulate_polytomous, to_long
from tests.calibration.truth import DenseLog, dense_log, rmse


def test_dense_2pl_recovers_truth_with_honest_standard_errors(dense_2pl: DenseLog) -> None:
    """10,000 × 100: RMSE(a) ≤ 0.04, RMSE(b) ≤ 0.05; the mean reported SE is within 25 % of the
    actual RMSE (cross-product SEs are neither inflated nor optimistic)."""
    result = calibrate(dense_2pl.responses, "2PL")
    assert result.converged
    assert rmse(result.items["a"], dense_2pl.a) <= 0.04
    assert rmse(result.items["b"], dense_2pl.b) <= 0.05
    assert result.items["se_a"].mean() == pytest.approx(rmse(result.items["a"], dense_2pl.a), rel=0.25)
    assert np.corrcoef(result.persons["theta"], dense_2pl.theta)[0, 1] > 0.95
    assert result.groups.loc[0, "mean"] == 0.0 and result.groups.loc[0, "sd"] == 1.0


def test_3pl_recovers_truth_with_prior_on_c() -> None:
    """3PL on 20,000 × 30 with c ~ U(0.1, 0.25): RMSE(a) ≤ 0.15, RMSE(b) ≤ 0.15, RMSE(c) ≤ 0.05."""
    log = dense_log(20_000, 30, seed=404, guessing=True)
    result = calibrate(log.responses, "3PL")
    assert result.converged
    assert rmse(result.items["a"], log.a) <= 0.15
    assert rmse(result.items["b"], log.b) <= 0.15
    assert rmse(result.items["c"], log.c) <= 0.05
    assert result.items["se_c"].between(0.0, 0.2).all()


def _polytomous_log(model: str, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=8_000)
    a = np.exp(rng.normal(0.0, 0.3, 20))
    thresholds = np.sort(rng.normal(0.0, 1.0, (20, 3)), axis=1)
    thresholds[:6, 2] = np.nan
    scores = simulate_polytomous(theta, a, thresholds, model, rng)
    frame = to_long(scores, [f"P{i:05d}" for i in range(len(theta))], [f"I{j:03d}" for j in range(20)])
    return frame, a, thresholds


@pytest.mark.parametrize("model", ["GRM", "GPCM"])
def test_polytomous_models_recover_thresholds(model: str) -> None:
    """8,000 persons, 20 items with 3 or 4 score levels: RMSE(a) ≤ 0.06, RMSE(thresholds) ≤ 0.08."""
    frame, a, thresholds = _polytomous_log(model, seed=505)
    result = calibrate(frame, model)
    assert result.converged
    estimated = np.array([t + [np.nan] * (3 - len(t)) for t in result.items["thresholds"]])
    np.testing.assert_array_equal(np.isnan(estimated), np.isnan(thresholds))
    assert rmse(result.items["a"], a) <= 0.06
    assert rmse(estimated[~np.isnan(thresholds)], thresholds[~np.isnan(thresholds)]) <= 0.08
    assert all(len(s) == len(t) for s, t in zip(result.items["se_thresholds"], result.items["thresholds"], strict=True))


def test_mixed_models_in_one_run() -> None:
    """GRM and 2PL items answered by the same 8,000 persons, calibrated together on one scale."""
    rng = np.random.default_rng(606)
    theta = rng.normal(size=8_000)
    a_poly = np.exp(rng.normal(0.0, 0.3, 10))
    thresholds = np.sort(rng.normal(0.0, 1.0, (10, 2)), axis=1)
    a_dich, b_dich = np.exp(rng.normal(0.0, 0.3, 15)), rng.normal(0.0, 1.0, 15)
    scores = np.hstack([simulate_polytomous(theta, a_poly, thresholds, "GRM", rng),
                        simulate_dichotomous(theta, a_dich, b_dich, 0.0, rng)])
    item_ids = [f"G{j:02d}" for j in range(10)] + [f"D{j:02d}" for j in range(15)]
    frame = to_long(scores, [f"P{i:05d}" for i in range(len(theta))], item_ids)
    result = calibrate(frame, {i: ("GRM" if i.startswith("G") else "2PL") for i in item_ids})
    items = result.items.set_index("item_id").loc[item_ids]
    assert items["model"].tolist() == ["GRM"] * 10 + ["2PL"] * 15
    assert rmse(items["b"].iloc[10:], b_dich) <= 0.08
    assert rmse(items["a"].iloc[10:], a_dich) <= 0.08
    assert rmse(items["a"].iloc[:10], a_poly) <= 0.08
    assert rmse(np.vstack(items["thresholds"].iloc[:10]), thresholds) <= 0.08


def test_non_convergence_is_flagged_not_raised(dense_2pl: DenseLog) -> None:
    with pytest.warns(CalibrationWarning, match="did not converge"):
        result = calibrate(dense_2pl.responses, "2PL", config=CalibrationConfig(max_iter=3, se_method="none"))
    assert not result.converged and result.n_iter == 3
    assert result.items["a"].notna().all()
    assert result.items["se_a"].isna().all()


def test_squarem_reaches_plain_em_optimum_in_fewer_iterations(dense_2pl: DenseLog) -> None:
    frame = dense_2pl.responses[dense_2pl.responses["item_id"] < "I0030"]
    fast = calibrate(frame, "2PL", config={"tol": 1e-6, "se_method": "none"})
    plain = calibrate(frame, "2PL", config={"tol": 1e-6, "se_method": "none", "acceleration": "none"})
    assert fast.n_iter < plain.n_iter
    assert fast.loglik == pytest.approx(plain.loglik, abs=1e-3)
    np.testing.assert_allclose(fast.items["b"], plain.items["b"], atol=1e-3)


@pytest.mark.parametrize(
    ("model", "fragment"),
    [("4PL", "unknown model"), ({"nope": "2PL"}, "not in the log")],
)
def test_bad_model_choice_raises(dense_2pl: DenseLog, model, fragment: str) -> None:
    with pytest.raises(CalibrationSpecError, match=fragment):
        calibrate(dense_2pl.responses.head(500), model)


def test_dichotomous_model_on_polytomous_item_raises() -> None:
    frame, _, _ = _polytomous_log("GRM", seed=708)
    with pytest.raises(CalibrationSpecError, match="use GRM or GPCM"):
        calibrate(frame.head(4000), "2PL")


def test_result_reports(dense_2pl: DenseLog) -> None:
    frame = dense_2pl.responses[dense_2pl.responses["item_id"] < "I0010"]
    result = calibrate(frame, "2PL")
    text = result.summary()
    assert "converged" in text and "10 items" in text and "log-likelihood" in text
    payload = result.to_dict()
    assert payload["converged"] is True and len(payload["items"]) == 10
    assert set(payload["items"][0]) >= {"item_id", "a", "b", "c", "se_a", "se_b", "n"}
    assert result.items["n"].eq(10_000).all()
    assert result.timings["total"] >= result.timings["em"] > 0


def test_progress_bar_does_not_change_the_fit(dense_2pl: DenseLog) -> None:
    frame = dense_2pl.responses[dense_2pl.responses["item_id"] < "I0010"]
    quiet = calibrate(frame, "2PL", config={"se_method": "none"})
    shown = calibrate(frame, "2PL", config={"se_method": "none"}, progress=True)
    assert shown.n_iter == quiet.n_iter
    np.testing.assert_allclose(shown.items["b"], quiet.items["b"])
