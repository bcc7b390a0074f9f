"""pytest-benchmark view of the CAT table (``make bench``): the unconstrained maximum-information
CAT, our shadow-test CAT with exposure control and mirt's shadow-test CAT in one group, figures in
extra_info (see :mod:`benchmarks.assembly.cat_compare`). Quality is asserted, time only recorded."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.assembly.cat_compare import VARIANTS, cat_pool, measure, simulees

SIMULEES, LENGTH, PEER_SIMULEES = 2000, 30, 300
RMSE_MARGIN, EXPOSURE_CEILING = 0.03, 0.27
RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def problem():
    return cat_pool(LENGTH), simulees(SIMULEES)


@pytest.mark.bench
@pytest.mark.parametrize("variant", VARIANTS)
def test_cat(benchmark, problem, variant: str) -> None:
    pool, truth = problem
    benchmark.group = f"cat-{len(pool.item_ids)}x{LENGTH}"
    cohort = truth[:PEER_SIMULEES] if variant == "mirt" else truth
    row = benchmark.pedantic(measure, args=(variant, pool, cohort), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in row.items() if k != "variant"})
    RESULTS[variant] = row
    if variant == "ours":
        assert row["tests_breaking_rules"] == 0
        assert row["max_exposure"] <= EXPOSURE_CEILING
        if "max_info" in RESULTS:
            assert row["rmse"] <= RESULTS["max_info"]["rmse"] + RMSE_MARGIN
