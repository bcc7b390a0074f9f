"""Small seeded banks and specs for the assembly tests (shared generator with the benchmarks)."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest

from assembly.synthetic import synthetic_bank

SOLVERS = ["highs", "cbc"]

SMALL_SPEC: dict[str, Any] = {
    "name": "small",
    "total_points": 50,
    "sections": [
        {"type": "single_choice", "count": 20, "points": 1.5},
        {"type": "multiple_choice", "count": 5, "points": 2},
        {"type": "true_false", "count": 5, "points": 2},
    ],
    "blueprint": [
        {"node": module, "weight": weight, "tolerance": 3}
        for module, weight in zip("ABCDEF", [15, 20, 20, 20, 15, 10], strict=True)
    ],
    "importance": [{"levels": ["X"], "min_share": 55}],
    "information": {"objective": "maximin", "theta": [-1, 0, 1], "parallel_band": 0.05},
    "forms": {"main": 2, "backup": 1},
    "solver": {"name": "highs", "time_limit": 4, "gap": 0.01},
}


def small_spec(**changes: Any) -> dict[str, Any]:
    """A copy of the small spec with top-level keys replaced (nested dicts merged one level)."""
    spec = copy.deepcopy(SMALL_SPEC)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


@pytest.fixture(scope="session")
def bank() -> pd.DataFrame:
    """400 synthetic items, seed 7."""
    return synthetic_bank(400, rng=7)


@pytest.fixture(params=SOLVERS)
def solver(request: pytest.FixtureRequest) -> str:
    return str(request.param)
