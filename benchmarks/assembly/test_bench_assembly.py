"""pytest-benchmark view of the assembly table (``make bench``): CBC, plain HiGHS, ours and the
mirt peer side by side per problem group, band on and off, with gaps to the root LP bound and the
rules a paper breaks in extra_info. mirt has one overlap limit for all pairs and needs two papers,
so it runs only where all papers share nothing."""

from __future__ import annotations

import pytest

from benchmarks.assembly.peer_mirt import STATABLE
from benchmarks.assembly.run_table import VARIANTS, measure

TIME_LIMITS = {"P1": 10.0, "P2": 10.0, "P3": 30.0, "P2-5000": 60.0}


@pytest.mark.bench
@pytest.mark.parametrize("band", [0.05, None])
@pytest.mark.parametrize("name", list(TIME_LIMITS))
@pytest.mark.parametrize(("variant", "solver", "tuned"), VARIANTS)
def test_assembly_problem(benchmark, name, band, variant, solver, tuned):
    if variant == "mirt" and name not in STATABLE:
        pytest.skip("mirt cannot state this problem (one paper, or mains sharing but backups not)")
    benchmark.group = f"assembly-{name}-band-{band}"
    row = benchmark.pedantic(measure, args=(name, variant, solver, tuned, TIME_LIMITS[name], band),
                             rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in row.items() if k not in ("problem", "variant")})
    if variant == "ours":
        assert row["objective"] is not None
