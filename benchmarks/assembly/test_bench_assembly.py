"""pytest-benchmark view of the assembly table (``make bench``): CBC, plain HiGHS and ours side by
side per problem group, with gaps to the root LP bound in extra_info."""

from __future__ import annotations

import pytest

from benchmarks.assembly.run_table import VARIANTS, measure

TIME_LIMITS = {"P1": 10.0, "P2": 10.0, "P3": 30.0, "P2-5000": 60.0}


@pytest.mark.bench
@pytest.mark.parametrize("name", list(TIME_LIMITS))
@pytest.mark.parametrize(("variant", "solver", "warm"), VARIANTS)
def test_assembly_problem(benchmark, name, variant, solver, warm):
    benchmark.group = f"assembly-{name}"
    row = benchmark.pedantic(measure, args=(name, variant, solver, warm, TIME_LIMITS[name], 0.05),
                             rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in row.items() if k not in ("problem", "variant")})
    if variant == "ours":
        assert row["objective"] is not None
