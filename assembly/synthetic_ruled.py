"""Seeded "ruled" banks: the synthetic bank with every rule that costs the assembler information.

Each shape combines item sets of 3–5 items (same element, so under a three-per-element cap the
four- and five-item sets fit no paper), enemy pairs some of whose members sit in two groups,
10-point case-analysis items, mains that may share a few items, disjoint backups (up to 6 mains
and 3 backups), importance and exposure rules, and max-min information at θ ±0.5 within a 5 %
band. The first shape is the one reported in issue #15 (4 mains sharing ≤ 8 items, 2 backups,
max 3 items per element, 60 s). ``small=True`` gives each shape at test size: a third of the
bank, half-length papers, the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from assembly.synthetic import MODULE_SHARES, synthetic_bank

SMALL_SHARE = 3
"""A small bank holds a third of the items, sets and enemies of the full one."""


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
SMALL_PLAIN_SECTIONS = [
    {"type": "single_choice", "count": 20, "points": 1.5},
    {"type": "multiple_choice", "count": 5, "points": 2},
    {"type": "true_false", "count": 5, "points": 2},
]
SMALL_CASE_SECTIONS = [
    {"type": "single_choice", "count": 18, "points": 1.5},
    {"type": "multiple_choice", "count": 4, "points": 2},
    {"type": "true_false", "count": 5, "points": 1},
    {"type": "case_analysis", "count": 1, "points": 10},
]
FULL_SECONDS = 60.0
SMALL_SECONDS = 20.0


def ruled_bank(shape: str, seed: int = 0, *, small: bool = False) -> pd.DataFrame:
    """The shape's item table; the same shape, seed and size always give the same bank."""
    s = RULED_SHAPES[shape]
    share = SMALL_SHARE if small else 1
    return synthetic_bank(s.items // share, rng=seed, n_enemy_pairs=s.enemy_pairs // share,
                          n_sets=s.sets // share, n_double_enemies=s.double_enemies // share,
                          n_case_items=s.case_items // share)


def ruled_spec(shape: str, *, small: bool = False, time_limit: float | None = None
               ) -> dict[str, Any]:
    """The shape's paper spec: 100-point papers (50 at test size), blueprint by module within
    ±2 points (±3), at least 60 % of points from importance X, items used at most 4 times
    before, at most 3 items per element."""
    s = RULED_SHAPES[shape]
    case = s.case_items > 0
    if small:
        sections = SMALL_CASE_SECTIONS if case else SMALL_PLAIN_SECTIONS
    else:
        sections = CASE_SECTIONS if case else PLAIN_SECTIONS
    return {
        "name": f"ruled-{shape}{'-small' if small else ''}",
        "total_points": 50 if small else 100,
        "sections": sections,
        "blueprint": [{"node": module, "weight": round(100 * share), "tolerance": 3 if small else 2}
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
