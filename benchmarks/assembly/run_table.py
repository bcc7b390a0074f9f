"""Print the assembly benchmark table: time to first paper, to 1 % and 0.5 % of the root LP
bound, and the final gap, for plain CBC and plain HiGHS (the straightforward simultaneous model)
and ``ours`` (``assemble`` with its defaults: decomposition, warm start, improvement), and the
PyPI ``mirt`` package's assembler (see ``peer_mirt``), with the parallelism band on and off, side
by side in one run. Times count from the start of ``assemble``; mirt reports no incumbents, so its
one answer is timed at its end.

The yardstick is the full model's root LP bound; for identical disjoint papers it is computed on
the shadow model, where it is equal and cheap (see :mod:`assembly.decompose`).

Usage: python -m benchmarks.assembly.run_table [P1 P2 P3 P2-5000] [--limit SECONDS]
       [--bands 0.05 none] [--variants cbc highs ours mirt]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import pandas as pd

from assembly import assemble
from assembly.bank import eligible_pool
from assembly.build import build_model
from assembly.decompose import decomposable, shadow_lp_bound
from assembly.solve import relaxation_bound
from assembly.spec import PaperSpec, load_spec
from assembly.synthetic import synthetic_bank
from benchmarks.assembly.peer_mirt import STATABLE, mirt_papers
from benchmarks.assembly.problems import problem

VARIANTS = [("cbc", "cbc", False), ("highs", "highs", False), ("ours", "highs", True),
            ("mirt", "highs", False)]
KEYS = ["problem", "band", "variant", "status", "lp_bound", "objective", "first", "to_1pct",
        "to_0.5pct", "final_gap_lp", "reported_gap", "wall", "broken"]


def first_time(trajectory: list[tuple[float, float]], bound: float, within: float) -> float | None:
    """Seconds until the incumbent came within ``within`` (relative) of the bound."""
    for seconds, value in trajectory:
        if value > 0 and (bound - value) / value <= within:
            return seconds
    return None


def yardstick(bank: pd.DataFrame, spec: PaperSpec) -> float | None:
    """The full model's root LP bound, computed on the shadow where papers share nothing (equal,
    and cheap); where mains share items, the shadow's root LP, a valid bound under the exact
    pairwise rule (the full model's LP under the ``shared`` formulation is far weaker)."""
    pool = eligible_pool(bank, spec)
    if decomposable(spec):
        return shadow_lp_bound(pool, spec)
    return relaxation_bound(build_model(pool, spec), spec.solver)


def measure(name: str, variant: str, solver: str, tuned: bool, limit: float,
            band: float | None) -> dict[str, Any]:
    """One run on one problem (``assemble``, or the mirt peer), scored against the root LP bound.
    ``broken`` lists the rule families the papers break (always empty for ``assemble``, which
    refuses such papers)."""
    bank_size, document = problem(name, solver, limit, band=band, tuned=tuned)
    spec = load_spec(document)
    bank = synthetic_bank(bank_size, rng=0)
    lp = yardstick(bank, spec)
    if variant == "mirt":
        peer = mirt_papers(bank, spec)
        status, objective, gap, wall = ("optimal" if peer["optimal"] else "feasible",
                                        peer["objective"], None, peer["wall"])
        trajectory, broken = [(wall, objective)], ",".join(peer["broken"])
    else:
        started = time.perf_counter()
        result = assemble(bank, spec)
        wall = time.perf_counter() - started
        status, objective, gap, broken = result.status, result.objective, result.gap, ""
        trajectory = result.trajectory or ([(wall, objective)] if objective is not None else [])
    return {
        "problem": name, "band": band, "variant": variant, "status": status,
        "lp_bound": lp, "objective": objective,
        "first": trajectory[0][0] if trajectory else None,
        "to_1pct": first_time(trajectory, lp or 0, 0.01),
        "to_0.5pct": first_time(trajectory, lp or 0, 0.005),
        "final_gap_lp": (lp - objective) / objective if objective and lp else None,
        "reported_gap": gap, "wall": wall, "broken": broken,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def _band(text: str) -> float | None:
    return None if text == "none" else float(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problems", nargs="*", default=["P1", "P2", "P3"])
    parser.add_argument("--limit", type=float, default=10.0)
    parser.add_argument("--bands", nargs="*", type=_band, default=[0.05, None])
    parser.add_argument("--variants", nargs="*", default=[v[0] for v in VARIANTS])
    args = parser.parse_args()
    print(" | ".join(KEYS))
    for name in args.problems:
        for band in args.bands:
            for variant, solver, tuned in VARIANTS:
                if variant in args.variants and (variant != "mirt" or name in STATABLE):
                    row = measure(name, variant, solver, tuned, args.limit, band)
                    print(" | ".join(_fmt(row[k]) for k in KEYS), flush=True)


if __name__ == "__main__":
    main()
