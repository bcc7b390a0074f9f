"""Drift flags exactly the items whose estimate moved by more than k standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.drift import DriftConfig, detect_drift
from calibration.errors import CalibrationSpecError
from calibration.linking import LinkingResult

N_ITEMS = 40
DRIFTED = [3, 17, 29]


def _bank_and_new(seed: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stable items move by estimation noise (se 0.1 each side); drifted items shift by 0.8."""
    rng = np.random.default_rng(seed)
    ids = [f"I{j:02d}" for j in range(N_ITEMS)]
    bank = pd.DataFrame(
        {"item_id": ids, "a": rng.lognormal(0, 0.3, N_ITEMS), "b": rng.normal(size=N_ITEMS)}
    ).assign(se_a=0.1, se_b=0.1)
    shift = np.zeros(N_ITEMS)
    shift[DRIFTED] = 0.8  # 0.8 / sqrt(0.1² + 0.1²) ≈ 5.7 combined standard errors
    new = bank.assign(b=bank["b"] + shift + rng.normal(0, 0.1 * np.sqrt(2), N_ITEMS))
    return bank, new


def test_shifted_items_flagged_and_stable_items_not() -> None:
    bank, new = _bank_and_new()
    table = detect_drift(bank, new)
    assert sorted(table.loc[table["flagged"], "item_id"]) == [f"I{j:02d}" for j in DRIFTED]
    np.testing.assert_allclose(table["se"], np.sqrt(0.02), atol=1e-12)
    np.testing.assert_allclose(table["z"], (new["b"] - bank["b"]) / np.sqrt(0.02), atol=1e-12)


def test_threshold_is_k_standard_errors() -> None:
    bank = pd.DataFrame({"item_id": ["x", "y"], "b": [0.0, 0.0]})
    new = pd.DataFrame({"item_id": ["x", "y"], "b": [0.29, -0.31], "se_b": [0.1, 0.1]})
    flagged = detect_drift(bank, new).set_index("item_id")["flagged"]
    assert not flagged["x"] and flagged["y"]
    lenient = detect_drift(bank, new, config=DriftConfig(k=4.0))
    assert not lenient["flagged"].any()


def test_new_estimates_are_linked_before_comparison() -> None:
    bank, new = _bank_and_new()
    slope, intercept = 1.3, 0.4
    other_scale = new.assign(
        a=new["a"] * slope, b=(new["b"] - intercept) / slope, se_b=new["se_b"] / slope
    )
    linking = LinkingResult("stocking_lord", slope, intercept, N_ITEMS, 0.0, True)
    linked = detect_drift(bank, other_scale, linking=linking)
    direct = detect_drift(bank, new)
    np.testing.assert_allclose(linked["z"], direct["z"], atol=1e-10)
    unlinked = detect_drift(bank, other_scale)
    assert unlinked["flagged"].sum() > len(DRIFTED)  # the scale gap alone looks like drift


def test_checks_several_parameters_and_names_missing_columns() -> None:
    bank, new = _bank_and_new()
    table = detect_drift(bank, new, config=DriftConfig(parameters=("a", "b")))
    assert table.groupby("parameter").size().to_dict() == {"a": N_ITEMS, "b": N_ITEMS}
    assert not table.loc[table["parameter"] == "a", "flagged"].any()
    with pytest.raises(CalibrationSpecError, match="se_b"):
        detect_drift(bank, new.drop(columns="se_b"))
    with pytest.raises(CalibrationSpecError, match="'slip'"):
        detect_drift(bank.drop(columns="a"), new, config=DriftConfig(parameters=("slip", "b")))
