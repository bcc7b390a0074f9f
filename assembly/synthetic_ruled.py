"""Seeded "ruled" banks: the synthetic bank with every rule that costs the assembler information.

Each shape combines item sets of 3–5 items (same element, so under a three-per-element cap the
four- and five-item sets fit no paper), enemy pairs some of whose members sit in two groups,
10-point case-analysis items, mains that may share a few items, disjoint backups (up to 6 mains
and 3 backups), importance and exposure rules, and max-min information at θ ±0.5 within a 5 %
band. The first shape is the one reported in issue #15 (4 mains sharing ≤ 8 items, 2 backups,
max 3 items per element, 60 s). ``small=True`` gives each shape at test size: two thirds of the
bank, the same papers and rules, a shorter time limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from assembly.synthetic import MODULE_SHARES, synthetic_bank

SMALL_SHARE = 1.5
"""A bank at test size holds two thirds of the items, sets and enemies of the full one (papers
of half length would be harder, not easier: one item is then twice the share of a paper)."""


@dataclass(frozen=True)
class RuledShape:
    """One bank-and-spec shape: bank size, its sets and enemies, and the papers asked of it."""

    items: int
    sets: int
    enemy_pairs: int
    double_enemies: int
    case_items: int
    mains: int
    backups: int
    main_main: int


RULED_SHAPES: dict[str, RuledShape] = {
    "issue15": RuledShape(1800, 60, 40, 0, 0, mains=4, backups=2, main_main=8),
    "double_enemies": RuledShape(1800, 45, 150, 90, 0, mains=4, backups=2, main_main=0),
    "case": RuledShape(1800, 45, 60, 30, 150, mains=4, backups=2, main_main=4),
    "wide": RuledShape(2400, 60, 90, 45, 0, mains=6, backups=3, main_main=6),
    "all_rules": RuledShape(2400, 75, 120, 60, 200, mains=6, backups=3, main_main=0),
}

PLAIN_SECTIONS = [
    {"type": "single_choice", "count": 40, "points": 1.5},
    {"type": "multiple_choice", "count": 10, "points": 2},
    {"type": "true_false", "count": 10, "points": 2},
]
CASE_SECTIONS = [
    {"type": "single_choice", "count": 36, "points": 1.5},
    {"type": "multiple_choice", "count": 8, "points": 2},
    {"type": "true_false", "count": 10, "points": 1},
    {"type": "case_analysis", "count": 2, "points": 10},
]
FULL_SECONDS = 60.0
SMALL_SECONDS = 20.0


def ruled_bank(shape: str, seed: int = 0, *, small: bool = False) -> pd.DataFrame:
    """The shape's item table; the same shape, seed and size always give the same bank."""
    s = RULED_SHAPES[shape]
    share = SMALL_SHARE if small else 1

    def scaled(n: int) -> int:
        return int(n / share)

    return synthetic_bank(scaled(s.items), rng=seed, n_enemy_pairs=scaled(s.enemy_pairs),
                          n_sets=scaled(s.sets), n_double_enemies=scaled(s.double_enemies),
                          n_case_items=scaled(s.case_items))


def ruled_spec(shape: str, *, small: bool = False, time_limit: float | None = None
               ) -> dict[str, Any]:
    """The shape's paper spec: 100-point papers (two 10-point case items where the bank has
    them), blueprint by module within ±2 points, at least 60 % of points from importance X,
    items used at most 4 times before, at most 3 items per element; 60 s (20 s at test size)."""
    s = RULED_SHAPES[shape]
    return {
        "name": f"ruled-{shape}",
        "total_points": 100,
        "sections": CASE_SECTIONS if s.case_items else PLAIN_SECTIONS,
        "blueprint": [{"node": module, "weight": round(100 * share), "tolerance": 2}
                      for module, share in MODULE_SHARES.items()],
        "importance": [{"levels": ["X"], "min_share": 60}],
        "max_per_element": 3,
        "exposure": {"max_exposure": 4},
        "information": {"objective": "maximin", "theta": [-0.5, 0.5], "parallel_band": 0.05},
        "forms": {"main": s.mains, "backup": s.backups},
        "overlap": {"main_main": s.main_main},
        "solver": {"time_limit": time_limit or (SMALL_SECONDS if small else FULL_SECONDS)},
    }


def ruled_problem(shape: str, seed: int = 0, *, small: bool = False,
                  time_limit: float | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(bank, spec) of one shape."""
    return ruled_bank(shape, seed, small=small), ruled_spec(shape, small=small,
                                                            time_limit=time_limit)
