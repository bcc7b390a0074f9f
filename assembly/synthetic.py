"""Seeded synthetic item bank shared by the tests and the benchmarks.

Six modules A–F holding 15/20/20/20/15/10 % of the items, three units of four elements each;
three item types; 2PL parameters (c = 0); 30 enemy pairs; 20 item sets of 3–5 items. Optionally
some enemy-pair members also join a second pair's group (an item in two enemy groups), and
10-point case-analysis items are added (:mod:`assembly.synthetic_ruled` uses both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MODULE_SHARES = {"A": 0.15, "B": 0.20, "C": 0.20, "D": 0.20, "E": 0.15, "F": 0.10}
TYPE_SHARES = {"single_choice": 0.6, "multiple_choice": 0.25, "true_false": 0.15}
TYPE_POINTS = {"single_choice": 1.0, "multiple_choice": 2.0, "true_false": 1.0,
               "case_analysis": 10.0}
UNITS_PER_MODULE = 3
ELEMENTS_PER_UNIT = 4


def synthetic_bank(n_items: int = 1000, rng: np.random.Generator | int | None = 0,
                   n_enemy_pairs: int = 30, n_sets: int = 20, *, n_double_enemies: int = 0,
                   n_case_items: int = 0) -> pd.DataFrame:
    """An item table in the contract's columns; the same seed always gives the same bank (and
    with the keyword options at 0, the same bank as before they existed). ``n_case_items`` of
    the ``n_items`` are 10-point case-analysis items; ``n_double_enemies`` enemy-pair members
    also join the group of another pair."""
    rng = np.random.default_rng(rng)
    bank = _base_bank(n_items, rng)
    _add_sets_and_enemies(bank, rng, n_enemy_pairs, n_sets)
    if n_double_enemies:
        _join_second_groups(bank, rng, n_double_enemies)
    if n_case_items:
        _make_case_items(bank, rng, n_case_items)
    return bank


def _base_bank(n_items: int, rng: np.random.Generator) -> pd.DataFrame:
    """Items with content codes, parameters and exposure, no sets or enemies yet."""
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
    return bank


def _add_sets_and_enemies(bank: pd.DataFrame, rng: np.random.Generator, n_enemy_pairs: int,
                          n_sets: int) -> None:
    """Item sets of 3–5 single-choice items of one element, then enemy pairs outside sets."""
    n_items = len(bank)
    types = bank["type"].to_numpy()
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


def _join_second_groups(bank: pd.DataFrame, rng: np.random.Generator, n_items: int) -> None:
    """Members of enemy pairs that also join another pair's group (``E03;E17``)."""
    groups = bank["enemy_groups"]
    members = np.flatnonzero((groups != "").to_numpy())
    names = sorted(set(groups.iloc[members]))
    if len(names) < 2:
        return
    for i in rng.choice(members, size=min(n_items, len(members)), replace=False):
        own = bank.at[i, "enemy_groups"]
        other = rng.choice([g for g in names if g != own])
        bank.at[i, "enemy_groups"] = f"{own};{other}"


def _make_case_items(bank: pd.DataFrame, rng: np.random.Generator, n_items: int) -> None:
    """Turn items outside sets and enemy groups into 10-point case-analysis items, with the
    higher discrimination of a long constructed-response item."""
    free = np.flatnonzero((bank["set_id"].isna() & (bank["enemy_groups"] == "")).to_numpy())
    chosen = rng.choice(free, size=min(n_items, len(free)), replace=False)
    bank.loc[chosen, "type"] = "case_analysis"
    bank.loc[chosen, "points"] = TYPE_POINTS["case_analysis"]
    bank.loc[chosen, "a"] = np.round(bank.loc[chosen, "a"] * 1.5, 3)
