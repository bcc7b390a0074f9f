"""Simulation-study metrics against hand-computed cases and simulated truth."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy import sparse

from itembank.simulation.metrics import (
    classification,
    exposure_summary,
    item_uses,
    mean_overlap,
    theta_recovery,
    timing_summary,
)


def test_theta_recovery_by_hand() -> None:
    truth = np.array([-2.0, -1.0, 1.0, 2.0])
    estimate = np.array([-1.0, -1.0, 1.0, 1.0])  # errors +1, 0, 0, −1
    recovery = theta_recovery(truth, estimate, groups=2)
    assert recovery.rmse == pytest.approx(np.sqrt(0.5))
    assert recovery.bias == pytest.approx(0.0)
    low, high = recovery.by_decile.to_dict("records")
    assert (low["n"], low["bias"], low["rmse"]) == (2, pytest.approx(0.5), pytest.approx(np.sqrt(0.5)))
    assert (high["n"], high["bias"], high["theta_low"], high["theta_high"]) == (2, pytest.approx(-0.5), 1.0, 2.0)


def test_theta_recovery_finds_known_noise_and_shrinkage() -> None:
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, 20_000)
    estimate = 0.8 * truth + rng.normal(0, 0.3, truth.size)  # EAP-like shrinkage towards 0
    recovery = theta_recovery(truth, estimate)
    assert recovery.rmse == pytest.approx(np.sqrt(0.04 + 0.09), abs=0.01)
    deciles = recovery.by_decile
    assert deciles["n"].tolist() == [2000] * 10
    assert deciles["bias"].iloc[0] > 0.25 and deciles["bias"].iloc[-1] < -0.25  # bias −0.2 θ at the extremes
    assert deciles["bias"].to_numpy() == pytest.approx(-0.2 * deciles["mean_theta"].to_numpy(), abs=0.03)


def test_classification_rates_add_up() -> None:
    true = np.array([70, 65, 50, 55, 80])
    seen = np.array([72, 58, 61, 40, 90])  # right, false fail, false pass, right, right
    result = classification(true, seen, 60)
    assert (result.accuracy, result.false_pass, result.false_fail) == (0.6, 0.2, 0.2)
    assert (result.true_pass_rate, result.observed_pass_rate) == (0.6, 0.6)
    assert classification(true, true, 60).accuracy == 1.0


def test_exposure_summary_counts_unused_pool_items() -> None:
    summary = exposure_summary(["i1", "i2", "i3", "i4"], [0, 1, 2, 4], tests=8)
    assert summary.max_rate == 0.5 and summary.mean_rate == pytest.approx(7 / 32)
    assert summary.unused_share == 0.25 and summary.pool == 4
    assert summary.histogram["items"].sum() == 4
    bins = summary.histogram.set_index("rate")["items"]
    assert (bins["0"], bins["(0.1, 0.15]"], bins["(0.2, 0.25]"], bins["(0.4, 0.5]"]) == (1, 1, 1, 1)
    assert summary.items["rate"].tolist() == [0.0, 0.125, 0.25, 0.5]


def test_mean_overlap_matches_the_pair_loop_for_dense_and_sparse() -> None:
    rng = np.random.default_rng(3)
    incidence = np.zeros((40, 200), dtype=bool)
    for row in incidence:
        row[rng.choice(200, 30, replace=False)] = True
    by_pairs = np.mean([(incidence[p] & incidence[q]).sum() / 30 for p, q in combinations(range(40), 2)])
    assert mean_overlap(incidence) == pytest.approx(by_pairs)
    assert mean_overlap(sparse.csr_array(incidence)) == pytest.approx(by_pairs)
    assert item_uses(sparse.csr_array(incidence)).tolist() == incidence.sum(axis=0).tolist()
    assert mean_overlap(np.eye(5, dtype=bool)) == 0.0 and mean_overlap(np.ones((3, 4), dtype=bool)) == 1.0


def test_timing_summary_percentiles() -> None:
    summary = timing_summary(np.arange(1, 101, dtype=float))
    assert summary["n"] == 100 and summary["p50"] == pytest.approx(50.5) and summary["p95"] == pytest.approx(95.05)
    assert summary["max"] == 100.0 and timing_summary([]) == {"n": 0}
