"""A first incumbent by decomposition, handed to the full model as a MIP start.

The full simultaneous model has a tight LP bound, but identical papers make its search slow to
find good papers (symmetry). Here the pool is dealt into one disjoint sub-pool per paper, stratified
by item type and module and ordered by information so the sub-pools are alike; each paper is then
assembled alone on its sub-pool (a small MIP). A second pass caps every paper at (1 + band) times
the weakest paper's information so the start also meets the parallelism band. Disjoint papers meet
any overlap limit, so the start is feasible for the full model, which then improves it. Items
pinned to several papers (anchors, or items the decomposition lets mains share) join those
papers' sub-pools and must already keep within the overlap limits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assembly.bank import Pool, unit_keys
from assembly.build import build_model
from assembly.information import item_information
from assembly.objective import information_matrix
from assembly.solve import HIGHS_FEASIBLE_SOLUTION, solve_highs
from assembly.spec import PaperSpec

MIN_PAPER_SECONDS = 0.5


def pinned_anchors(pool: Pool, spec: PaperSpec) -> np.ndarray:
    """[paper, item]: the spec's anchor items, pinned to every main paper."""
    anchors = pool.table["item_id"].isin(spec.include).to_numpy()
    return np.array([anchors & name.startswith("main") for name in spec.form_names])


def deal_subpools(pool: Pool, spec: PaperSpec, key: np.ndarray, rng: np.random.Generator,
                  pinned: np.ndarray, dealt_to: np.ndarray) -> list[np.ndarray]:
    """Disjoint, alike sub-pools (one per paper) of the items not pinned; each paper's pinned
    items join its own sub-pool, and an item goes only to papers ``dealt_to`` [paper, item]
    allows. Each stratum is dealt (per set of allowed papers) in laps of one unit per paper,
    the best unit of a lap to the paper holding least so far (pinned items included), so papers
    that start ahead receive less."""
    table = pool.table
    papers = len(spec.form_names)
    anchors = pinned.any(axis=0)
    units = unit_keys(table)
    frame = pd.DataFrame({
        "unit": units,
        "stratum": table["type"] + "|" + table["element"].str.split("-").str[0],
        "key": key,
        "tie": rng.random(len(table)),
        "takers": ["".join("1" if allowed else "0" for allowed in column) for column in dealt_to.T],
    })[~anchors]
    by_unit = frame.groupby("unit").agg(stratum=("stratum", "first"), key=("key", "sum"),
                                        tie=("tie", "first"), takers=("takers", "first"))
    owner = pd.Series(-1, index=by_unit.index)
    held = pinned.astype(float) @ np.asarray(key, dtype=float)
    for (_, allowed), stratum in by_unit.groupby(["stratum", "takers"]):
        eligible = np.array([flag == "1" for flag in allowed])
        if not eligible.any():
            continue
        order = stratum.sort_values(["key", "tie"], ascending=[False, True])
        for start in range(0, len(order), int(eligible.sum())):
            lap = order.iloc[start:start + int(eligible.sum())]
            ranked = np.flatnonzero(eligible)[np.argsort(held[eligible], kind="stable")]
            takers = ranked[:len(lap)]
            owner[lap.index] = takers
            held[takers] += lap["key"].to_numpy()
    item_owner = units.map(owner).to_numpy()
    return [(item_owner == f) & ~anchors | pinned[f] for f in range(papers)]


def _single_paper_spec(spec: PaperSpec, include: list[str], time_limit: float) -> PaperSpec:
    return spec.model_copy(update={
        "forms": spec.forms.model_copy(update={"main": 1, "backup": 0}),
        "include": include,
        "solver": spec.solver.model_copy(update={"time_limit": time_limit}),
    })


def _assemble_alone(pool: Pool, mask: np.ndarray, spec: PaperSpec,
                    band: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray | None:
    """One paper from one sub-pool; ``band`` adds floor and cap rows on information per θ."""
    model = build_model(pool.subset(mask), spec)
    if band is not None:
        tif = information_matrix(model)
        for k, (floor, cap) in enumerate(zip(*band, strict=True)):
            model.define(model.total(0, tif[:, k]) >= floor)
            model.define(model.total(0, tif[:, k]) <= cap)
    highs, _, _ = solve_highs(model.problem, spec.solver)
    if highs.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
        return None
    values = np.asarray(highs.getSolution().col_value)
    chosen = np.zeros(len(pool.table), dtype=bool)
    chosen[np.flatnonzero(mask)[[values[v.index] > 0.5 for v in model.x[0]]]] = True
    return chosen


def warm_start(pool: Pool, spec: PaperSpec, budget: float, pinned: np.ndarray | None = None,
               dealt_to: np.ndarray | None = None) -> np.ndarray | None:
    """A feasible [paper, item] selection for the full model, or None if decomposition fails.
    ``pinned`` [paper, item] names items a paper must hold (default: the anchors in every main);
    they may stand in several papers, so they must already respect the overlap limits.
    ``dealt_to`` [paper, item] limits which papers may receive an item (default: any)."""
    papers = spec.form_names
    table = pool.table
    tif = None
    if spec.information is not None:
        tif = item_information(table["a"], table["b"], table["c"], spec.information.theta)
        key = tif.sum(axis=1)
    else:
        key = -table["exposure"].to_numpy(dtype=float)
    pinned = pinned_anchors(pool, spec) if pinned is None else pinned
    dealt_to = np.ones(pinned.shape, dtype=bool) if dealt_to is None else dealt_to
    masks = deal_subpools(pool, spec, key, np.random.default_rng(spec.solver.seed), pinned,
                          dealt_to)
    per_paper = max(MIN_PAPER_SECONDS, budget / (2 * len(papers)))
    single = [_single_paper_spec(spec, table["item_id"][row].tolist(), per_paper) for row in pinned]
    selection = []
    for f, mask in enumerate(masks):
        chosen = _assemble_alone(pool, mask, single[f], None)
        if chosen is None:
            return None
        selection.append(chosen)
    target = spec.information
    if target is None or tif is None or target.parallel_band is None or len(papers) < 2:
        return np.array(selection)
    achieved = np.array([tif[chosen].sum(axis=0) for chosen in selection])
    floor = achieved.min(axis=0)
    band = (floor, (1 + target.parallel_band) * floor * (1 - 1e-6))
    for f in range(len(papers)):
        if np.all(achieved[f] <= band[1]):
            continue
        chosen = _assemble_alone(pool, masks[f], single[f], band)
        if chosen is None:
            return None
        selection[f] = chosen
    return np.array(selection)
