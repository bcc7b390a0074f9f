"""Item fit on data simulated from known parameters: nominal error rates, misfit detected."""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from calibration.errors import CalibrationSpecError, ResponseLogError
from calibration.fit import (
    benjamini_hochberg,
    expected_proportions,
    fit_summary,
    rasch_fit,
    summed_score_likelihood,
    sx2,
    sx2_by_paper,
)
from calibration.irt import prob_3pl
from calibration.simulate import simulate_dichotomous, to_long

N_ITEMS, N_PERSONS = 30, 2000


def _truth(rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"I{j:02d}" for j in range(N_ITEMS)],
            "a": rng.lognormal(0.0, 0.3, N_ITEMS),
            "b": rng.normal(0.0, 1.0, N_ITEMS),
            "c": rng.uniform(0.05, 0.25, N_ITEMS),
        }
    )


def test_lord_wingersky_matches_brute_force_enumeration() -> None:
    p = np.random.default_rng(0).uniform(0.05, 0.95, (3, 6))
    brute = np.zeros((3, 7))
    for pattern in product([0, 1], repeat=6):
        x = np.array(pattern)
        brute[:, x.sum()] += np.prod(np.where(x == 1, p, 1 - p), axis=1)
    np.testing.assert_allclose(summed_score_likelihood(p), brute, atol=1e-15)


def test_expected_proportions_add_up_to_the_summed_score() -> None:
    """Given a summed score k, the expected numbers correct over all items must total k."""
    truth = _truth(np.random.default_rng(4))
    theta = np.linspace(-5, 5, 81)
    weights = np.exp(-0.5 * theta**2)
    p = prob_3pl(theta, truth["a"], truth["b"], truth["c"])
    expected = expected_proportions(p, weights / weights.sum())
    np.testing.assert_allclose(expected.sum(axis=0), np.arange(N_ITEMS + 1), atol=1e-9)


def test_sx2_p_values_are_uniform_under_the_true_model() -> None:
    """Ten replications × 30 items: rejection rate at 5 % within 2–9 % and KS not rejecting."""
    rng = np.random.default_rng(2024)
    p_values = []
    for _ in range(10):
        truth = _truth(rng)
        scores = simulate_dichotomous(
            rng.normal(size=N_PERSONS), truth["a"], truth["b"], truth["c"], rng
        )
        table = sx2(scores, truth, n_item_parameters=0)  # parameters known, none estimated
        assert (table["df"] == table["n_groups"]).all()
        p_values.append(table["p_value"].to_numpy())
    p = np.concatenate(p_values)
    assert 0.02 <= (p < 0.05).mean() <= 0.09  # nominal 0.05; binomial sd over 300 is 0.013
    assert stats.kstest(p, "uniform").pvalue > 0.01


def test_sx2_flags_an_item_drawn_from_another_curve() -> None:
    rng = np.random.default_rng(7)
    truth = _truth(rng)
    theta = rng.normal(size=N_PERSONS)
    scores = simulate_dichotomous(theta, truth["a"], truth["b"], truth["c"], rng)
    # Item 4 really behaves like a flat, guessable item; the bank claims a sharp one.
    scores[:, 4] = simulate_dichotomous(theta, np.array([0.3]), np.array([0.0]), 0.0, rng)[:, 0]
    claimed = truth.assign(a=truth["a"].where(truth.index != 4, 2.0))
    table = sx2(scores, claimed, n_item_parameters=0).set_index("item_id")
    assert table.loc["I04", "flagged"] and table.loc["I04", "p_value"] < 1e-6
    assert table["flagged"].sum() == 1
    assert fit_summary(table.reset_index())["n_flagged"] == 1


def test_sx2_by_paper_analyses_each_paper_of_a_sparse_log() -> None:
    rng = np.random.default_rng(12)
    truth = _truth(rng)
    scores = simulate_dichotomous(rng.normal(size=1200), truth["a"], truth["b"], truth["c"], rng)
    seen = np.zeros(scores.shape, dtype=bool)
    seen[:600, :20] = True
    seen[600:, 10:] = True
    seen[0, 3] = False  # person 0 skipped an item: left out of paper P1's analysis
    paper = np.repeat(["P1", "P2"], 600)
    log = to_long(scores, np.arange(1200), truth["item_id"], seen, extra={"paper_id": paper})
    table = sx2_by_paper(log, truth).set_index(["paper_id", "item_id"])
    assert table.loc["P1", "n_persons"].eq(599).all() and len(table.loc["P2"]) == 20
    direct = sx2(scores[600:, 10:], truth.iloc[10:]).set_index("item_id")
    np.testing.assert_allclose(table.loc["P2", "sx2"], direct["sx2"], rtol=1e-12)
    with pytest.raises(CalibrationSpecError, match="P1"):
        sx2_by_paper(log, truth.iloc[5:])


def test_collapsing_respects_the_minimum_expected_count() -> None:
    rng = np.random.default_rng(3)
    truth = _truth(rng)
    scores = simulate_dichotomous(rng.normal(size=300), truth["a"], truth["b"], truth["c"], rng)
    loose = sx2(scores, truth, min_expected=1.0)
    strict = sx2(scores, truth, min_expected=5.0)
    assert (strict["n_groups"] <= loose["n_groups"]).all()
    assert (strict["n_groups"] < loose["n_groups"]).any()
    assert (loose["df"] == loose["n_groups"] - 3).all()  # 3PL: three estimated parameters


def test_rasch_infit_outfit_near_one_and_misfit_detected() -> None:
    """True Rasch data, N=4000: mean squares within 1 ± 0.1 (their SE here is ≤ 0.04)."""
    rng = np.random.default_rng(17)
    theta = rng.normal(size=4000)
    b = np.linspace(-1.0, 1.0, N_ITEMS)
    scores = simulate_dichotomous(theta, np.ones(N_ITEMS), b, 0.0, rng).astype(float)
    scores[:, 0] = simulate_dichotomous(theta, np.array([0.3]), b[:1], 0.0, rng)[:, 0]  # flat curve
    scores[rng.random(scores.shape) < 0.2] = np.nan  # unseen cells are ignored
    table = rasch_fit(scores, theta, b)
    good = table.iloc[1:]
    assert good["infit"].sub(1).abs().max() < 0.1
    assert good["outfit"].sub(1).abs().max() < 0.1
    assert good["infit_t"].abs().max() < 3.5
    assert table.loc[0, "infit"] > 1.2 and table.loc[0, "outfit"] > 1.2
    assert table.loc[0, "flagged"] and not good["flagged"].any()
    assert (table["n"] < 4000).all()


def test_benjamini_hochberg_by_hand() -> None:
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, np.nan, 0.5])
    np.testing.assert_allclose(adjusted, [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, np.nan, 0.5])


def test_sx2_rejects_incomplete_or_misaligned_input() -> None:
    truth = _truth(np.random.default_rng(1))
    with pytest.raises(ResponseLogError, match="scores"):
        sx2(np.full((5, N_ITEMS), np.nan), truth)
    with pytest.raises(CalibrationSpecError, match="params"):
        sx2(np.zeros((5, 3)), truth)
