"""Seeded CAT pools shared by the CAT tests and benchmarks: the synthetic bank's content
structure (modules, types, importance, enemies, item sets) with a mix of 2PL and 3PL items, and
the 60-item, 100-point exam spec whose CAT is 30 items long."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assembly.synthetic import MODULE_SHARES, synthetic_bank

GUESSING_RANGE = (0.1, 0.25)

CAT_SPEC: dict[str, Any] = {
    "name": "cat",
    "total_points": 100,
    "sections": [
        {"type": "single_choice", "count": 40, "points": 1.5},
        {"type": "multiple_choice", "count": 10, "points": 2},
        {"type": "true_false", "count": 10, "points": 2},
    ],
    "blueprint": [{"node": module, "weight": round(100 * share), "tolerance": 2}
                  for module, share in MODULE_SHARES.items()],
    "importance": [{"levels": ["X"], "min_share": 60}],
    "cat": {"length": 30, "max_exposure": 0.25},
}


def synthetic_cat_pool(n_items: int = 500, rng: np.random.Generator | int | None = 0, *,
                       share_3pl: float = 0.5, n_enemy_pairs: int = 30, n_sets: int = 0
                       ) -> pd.DataFrame:
    """A pool in the item table's columns where ``share_3pl`` of the items (choice items only:
    true/false and choice items can be guessed alike, so any type) get a lower asymptote c drawn
    from 0.10–0.25; the same seed always gives the same pool."""
    rng = np.random.default_rng(rng)
    pool = synthetic_bank(n_items, rng=rng, n_enemy_pairs=n_enemy_pairs, n_sets=n_sets)
    guessing = rng.random(n_items) < share_3pl
    pool["c"] = np.where(guessing, np.round(rng.uniform(*GUESSING_RANGE, n_items), 3), 0.0)
    return pool
