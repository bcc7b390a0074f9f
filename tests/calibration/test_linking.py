"""Linking recovers a known scale transformation from noisy anchor estimates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from calibration.errors import CalibrationSpecError
from calibration.linking import (
    LinkingMethod,
    LinkingResult,
    haebara,
    link,
    mean_mean,
    mean_sigma,
    stocking_lord,
    transform,
)

SLOPE, INTERCEPT = 1.2, -0.3


def _scales(noise: float, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bank parameters and the same items as a separate calibration would see them, plus noise."""
    rng = np.random.default_rng(seed)
    n_items = 30
    bank = pd.DataFrame(
        {
            "item_id": [f"I{j:02d}" for j in range(n_items)],
            "a": rng.lognormal(0.0, 0.3, n_items),
            "b": rng.normal(0.0, 1.0, n_items),
            "c": rng.uniform(0.1, 0.25, n_items),
        }
    )
    new = bank.assign(
        a=bank["a"] * SLOPE * np.exp(rng.normal(0, noise, n_items)),
        b=(bank["b"] - INTERCEPT) / SLOPE + rng.normal(0, noise, n_items),
    )
    return new, bank


@pytest.mark.parametrize("method", [mean_sigma, haebara, stocking_lord])
def test_recovers_known_constants_within_0_02(
    method: Callable[[pd.DataFrame, pd.DataFrame], LinkingResult],
) -> None:
    new, bank = _scales(noise=0.02)
    result = method(new, bank)
    assert result.slope == pytest.approx(SLOPE, abs=0.02)
    assert result.intercept == pytest.approx(INTERCEPT, abs=0.02)
    assert result.n_common == 30 and result.converged


def test_mean_mean_within_0_05_and_exact_without_noise() -> None:
    result = mean_mean(*_scales(noise=0.02))
    assert result.slope == pytest.approx(SLOPE, abs=0.05)
    assert result.intercept == pytest.approx(INTERCEPT, abs=0.05)
    methods: tuple[LinkingMethod, ...] = ("mean_mean", "mean_sigma", "haebara", "stocking_lord")
    for name in methods:
        exact = link(*_scales(noise=0.0), method=name)
        assert exact.slope == pytest.approx(SLOPE, abs=1e-4), name
        assert exact.intercept == pytest.approx(INTERCEPT, abs=1e-4), name


def test_curve_methods_only_use_common_items() -> None:
    new, bank = _scales(noise=0.0)
    extra = pd.DataFrame({"item_id": ["NEW1"], "a": [9.0], "b": [5.0], "c": [0.0]})
    result = stocking_lord(pd.concat([new, extra]), bank.iloc[::-1])
    assert result.slope == pytest.approx(SLOPE, abs=1e-4)


def test_transform_puts_parameters_on_bank_scale() -> None:
    new, bank = _scales(noise=0.0)
    new = new.assign(se_a=0.12, se_b=0.1, b1=new["b"] - 0.5, b2=new["b"] + 0.5)
    moved = transform(new, SLOPE, INTERCEPT)
    np.testing.assert_allclose(moved["a"], bank["a"], rtol=1e-12)
    np.testing.assert_allclose(moved["b"], bank["b"], atol=1e-12)
    np.testing.assert_allclose(moved["b1"], bank["b"] - 0.5 * SLOPE, atol=1e-12)
    np.testing.assert_allclose(moved["c"], bank["c"], atol=0)
    np.testing.assert_allclose(moved["se_a"], 0.1, atol=1e-12)
    np.testing.assert_allclose(moved["se_b"], 0.12, atol=1e-12)
    assert new["b"].iloc[0] != moved["b"].iloc[0]  # the input is not modified in place

    stored = pd.DataFrame({"a": [1.2, 1.2], "b": [np.nan, 0.0], "thresholds": [[-1.0, 0.5], None]})
    moved_stored = transform(stored, SLOPE, INTERCEPT)
    assert moved_stored["thresholds"].iloc[0] == pytest.approx([-1.5, 0.3])
    assert moved_stored["thresholds"].iloc[1] is None


def test_errors_name_the_problem() -> None:
    new, bank = _scales(noise=0.0)
    with pytest.raises(CalibrationSpecError, match="common items"):
        mean_sigma(new.iloc[:1], bank.iloc[1:])
    with pytest.raises(CalibrationSpecError, match="'a'"):
        haebara(new.drop(columns="a"), bank)
    with pytest.raises(CalibrationSpecError, match="method"):
        link(new, bank, method="equipercentile")  # type: ignore[arg-type]
    with pytest.raises(CalibrationSpecError, match="slope"):
        transform(new, -1.0, 0.0)
