"""Seeded synthetic item bank shared by the tests and the benchmarks.

Six modules A–F holding 15/20/20/20/15/10 % of the items, three units of four elements each;
three item types; 2PL parameters (c = 0); 30 enemy pairs; 20 item sets of 3–5 items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MODULE_SHARES = {"A": 0.15, "B": 0.20, "C": 0.20, "D": 0.20, "E": 0.15, "F": 0.10}
TYPE_SHARES = {"single_choice": 0.6, "multiple_choice": 0.25, "true_false": 0.15}
TYPE_POINTS = {"single_choice": 1.0, "multiple_choice": 2.0, "true_false": 1.0}
UNITS_PER_MODULE = 3
ELEMENTS_PER_UNIT = 4


def synthetic_bank(n_items: int = 1000, rng: np.random.Generator | int | None = 0,
                   n_enemy_pairs: int = 30, n_sets: int = 20) -> pd.DataFrame:
    """An item table in the contract's columns; the same seed always gives the same bank."""
    rng = np.random.default_rng(rng)
    modules = rng.choice(list(MODULE_SHARES), size=n_items, p=list(MODULE_SHARES.values()))
    units = rng.integers(1, UNITS_PER_MODULE + 1, size=n_items)
    elements = rng.integers(1, ELEMENTS_PER_UNIT + 1, size=n_items)
    types = rng.choice(list(TYPE_SHARES), size=n_items, p=list(TYPE_SHARES.values()))
    a = np.round(rng.lognormal(mean=0.1, sigma=0.3, size=n_items), 3)
    b = np.round(rng.normal(0.0, 1.0, size=n_items), 3)
    p_value = np.clip(1.0 / (1.0 + np.exp(b)) + rng.normal(0, 0.05, n_items), 0.02, 0.98)
    rating = np.clip(np.round(3 + 1.2 * b + rng.normal(0, 0.5, n_items)), 1, 5)
    last_used = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 700, n_items), "D")
    never_used = rng.random(n_items) < 0.3
    bank = pd.DataFrame({
        "item_id": [f"I{k:05d}" for k in range(n_items)],
        "type": types,
        "points": [TYPE_POINTS[t] for t in types],
        "element": [f"{m}-{u:02d}-{e:03d}" for m, u, e in zip(modules, units, elements, strict=True)],
        "importance": rng.choice(["X", "Y", "Z"], size=n_items, p=[0.65, 0.25, 0.10]),
        "set_id": None,
        "enemy_groups": "",
        "exposure": np.where(never_used, 0, rng.poisson(2, n_items)),
        "last_used": last_used.where(~never_used, pd.NaT),
        "a": a, "b": b, "c": 0.0,
        "p_value": np.round(p_value, 3),
        "difficulty": rating,
    })
    order = rng.permutation(n_items)
    singles = order[types[order] == "single_choice"]
    cursor = 0
    for s in range(min(n_sets, len(singles) // 5)):
        size = int(rng.integers(3, 6))
        members = singles[cursor:cursor + size]
        cursor += size
        bank.loc[members, "set_id"] = f"S{s + 1:02d}"
        bank.loc[members, "element"] = bank.loc[members[0], "element"]
    rest = order[~np.isin(order, singles[:cursor])]  # enemies are drawn outside item sets
    n_pairs = min(n_enemy_pairs, len(rest) // 2)
    pairs = rng.choice(rest, size=(n_pairs, 2), replace=False) if n_pairs else np.empty((0, 2), int)
    for g, pair in enumerate(pairs):
        bank.loc[pair, "enemy_groups"] = f"E{g + 1:02d}"
    return bank
