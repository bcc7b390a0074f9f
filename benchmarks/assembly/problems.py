"""The standard assembly benchmark problems on the shared synthetic bank (P1, P2, P3, P2-5000)."""

from __future__ import annotations

from typing import Any

SECTIONS = [
    {"type": "single_choice", "count": 40, "points": 1.5},
    {"type": "multiple_choice", "count": 10, "points": 2},
    {"type": "true_false", "count": 10, "points": 2},
]
BLUEPRINT = [{"node": module, "weight": weight, "tolerance": 2}
             for module, weight in zip("ABCDEF", [15, 20, 20, 20, 15, 10], strict=True)]


def problem(name: str, solver: str, time_limit: float, *, band: float | None = None,
            tuned: bool = True) -> tuple[int, dict[str, Any]]:
    """(bank size, spec) for one standard problem; 60-item, 100-point papers, max-min TIF.
    ``tuned`` switches on decomposition, warm start and improvement; off, the solver gets the
    straightforward simultaneous model alone."""
    forms, overlap, bank_size = {"main": 4, "backup": 2}, {}, 1000
    if name == "P1":
        forms = {"main": 1, "backup": 0}
    elif name == "P3":
        overlap = {"main_main": 6}
    elif name == "P2-5000":
        forms, bank_size = {"main": 8, "backup": 2}, 5000
    return bank_size, {
        "name": name, "total_points": 100, "sections": SECTIONS, "blueprint": BLUEPRINT,
        "importance": [{"levels": ["X"], "min_share": 60}],
        "information": {"objective": "maximin", "theta": [-1, 0, 1], "parallel_band": band},
        "forms": forms, "overlap": overlap,
        "solver": {"name": solver, "time_limit": time_limit, "gap": 0.001, "decompose": tuned,
                   "warm_start": tuned, "improve": tuned},
    }
