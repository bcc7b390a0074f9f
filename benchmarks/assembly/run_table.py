"""Print the assembly benchmark table: time to first paper, to 1 % and 0.5 % of the root LP
bound, and the final gap, for plain CBC, plain HiGHS (the straightforward simultaneous model) and
``ours``: HiGHS with the decomposition warm start and fix-and-optimise.

Usage: python -m benchmarks.assembly.run_table [P1 P2 P3 P2-5000] [--limit SECONDS] [--band 0.05]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from assembly.bank import eligible_pool
from assembly.build import build_model
from assembly.engine import WARM_START_SHARE
from assembly.solve import relaxation_bound, run_solver
from assembly.spec import load_spec
from assembly.synthetic import synthetic_bank
from assembly.warmstart import warm_start
from benchmarks.assembly.problems import problem

VARIANTS = [("cbc", "cbc", False), ("highs", "highs", False), ("ours", "highs", True)]


def first_time(trajectory: list[tuple[float, float]], lp: float, within: float) -> float | None:
    """Seconds until the incumbent came within ``within`` (relative) of the LP bound."""
    for seconds, value in trajectory:
        if value > 0 and (lp - value) / value <= within:
            return seconds
    return None


def measure(name: str, variant: str, solver: str, warm: bool, limit: float,
            band: float | None) -> dict[str, Any]:
    """One run: the full model (and, for ``ours``, the warm start first) on one problem."""
    bank_size, document = problem(name, solver, limit, band=band, warm_start=warm, improve=warm)
    spec = load_spec(document)
    pool = eligible_pool(synthetic_bank(bank_size, rng=0), spec)
    started = time.perf_counter()
    start = warm_start(pool, spec, WARM_START_SHARE * limit) if warm else None
    model = build_model(pool, spec)
    lp = relaxation_bound(model, spec.solver)
    prep = time.perf_counter() - started
    settings = spec.solver.model_copy(update={"time_limit": max(1.0, limit - prep)})
    outcome = run_solver(model, settings, start)
    shift = prep if warm else 0.0
    trajectory = [(t + shift, v) for t, v in outcome.trajectory]
    if outcome.objective is not None and not trajectory:
        trajectory = [(prep + outcome.solve_time, outcome.objective)]
    return {
        "problem": name, "variant": variant, "status": outcome.status, "lp_bound": lp,
        "objective": outcome.objective, "first": trajectory[0][0] if trajectory else None,
        "to_1pct": first_time(trajectory, lp or 0, 0.01),
        "to_0.5pct": first_time(trajectory, lp or 0, 0.005),
        "final_gap_lp": (lp - outcome.objective) / outcome.objective
        if outcome.objective and lp else None,
        "wall": time.perf_counter() - started,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problems", nargs="*", default=["P1", "P2", "P3"])
    parser.add_argument("--limit", type=float, default=10.0)
    parser.add_argument("--band", type=float, default=None)
    parser.add_argument("--variants", nargs="*", default=[v[0] for v in VARIANTS])
    args = parser.parse_args()
    keys = ["problem", "variant", "status", "lp_bound", "objective", "first", "to_1pct",
            "to_0.5pct", "final_gap_lp", "wall"]
    print(" | ".join(keys))
    for name in args.problems:
        for variant, solver, warm in VARIANTS:
            if variant in args.variants:
                row = measure(name, variant, solver, warm, args.limit, args.band)
                print(" | ".join(_fmt(row[k]) for k in keys), flush=True)


if __name__ == "__main__":
    main()
