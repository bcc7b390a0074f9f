"""A first incumbent by decomposition, handed to the full model as a MIP start.

The full simultaneous model has a tight LP bound, but identical papers make its search slow to
find good papers (symmetry). Here the pool is dealt into one disjoint sub-pool per paper, stratified
by item type and module and ordered by information so the sub-pools are alike; each paper is then
assembled alone on its sub-pool (a small MIP). A second pass caps every paper at (1 + band) times
the weakest paper's information so the start also meets the parallelism band. Disjoint papers meet
any overlap limit, so the start is feasible for the full model, which then improves it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assembly.bank import Pool
from assembly.build import build_model
from assembly.information import item_information
from assembly.objective import information_matrix
from assembly.solve import HIGHS_FEASIBLE_SOLUTION, solve_highs
from assembly.spec import PaperSpec

MIN_PAPER_SECONDS = 0.5


def _units(table: pd.DataFrame) -> pd.Series:
    """Dealing units: an item set moves as one unit, every other item alone."""
    return table["set_id"].where(table["set_id"].notna(), "item:" + table["item_id"])


def deal_subpools(pool: Pool, spec: PaperSpec, key: np.ndarray,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint, alike sub-pools (one per paper); anchors go to every main paper's sub-pool."""
    table = pool.table
    papers = len(spec.form_names)
    anchors = table["item_id"].isin(spec.include).to_numpy()
    units = _units(table)
    frame = pd.DataFrame({
        "unit": units,
        "stratum": table["type"] + "|" + table["element"].str.split("-").str[0],
        "key": key,
        "tie": rng.random(len(table)),
    })[~anchors]
    by_unit = frame.groupby("unit").agg(stratum=("stratum", "first"), key=("key", "sum"),
                                        tie=("tie", "first"))
    owner = pd.Series(0, index=by_unit.index)
    for _, stratum in by_unit.groupby("stratum"):
        order = stratum.sort_values(["key", "tie"], ascending=[False, True]).index
        lap = np.arange(len(order))
        serpentine = np.where((lap // papers) % 2 == 0, lap % papers, papers - 1 - lap % papers)
        owner[order] = serpentine
    item_owner = units.map(owner).to_numpy()
    masks = []
    for f, name in enumerate(spec.form_names):
        mask = item_owner == f
        if name.startswith("main"):
            mask = mask | anchors
        masks.append(mask)
    return masks


def _single_paper_spec(spec: PaperSpec, main: bool, time_limit: float) -> PaperSpec:
    return spec.model_copy(update={
        "forms": spec.forms.model_copy(update={"main": 1, "backup": 0}),
        "include": spec.include if main else [],
        "solver": spec.solver.model_copy(update={"time_limit": time_limit}),
    })


def _assemble_alone(pool: Pool, mask: np.ndarray, spec: PaperSpec,
                    band: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray | None:
    """One paper from one sub-pool; ``band`` adds floor and cap rows on information per θ."""
    sub_pool = Pool(table=pool.table[mask].reset_index(drop=True), score=pool.score[mask])
    model = build_model(sub_pool, spec)
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


def warm_start(pool: Pool, spec: PaperSpec, budget: float) -> np.ndarray | None:
    """A feasible [paper, item] selection for the full model, or None if decomposition fails."""
    papers = spec.form_names
    table = pool.table
    tif = None
    if spec.information is not None:
        tif = item_information(table["a"], table["b"], table["c"], spec.information.theta)
        key = tif.sum(axis=1)
    else:
        key = -table["exposure"].to_numpy(dtype=float)
    masks = deal_subpools(pool, spec, key, np.random.default_rng(spec.solver.seed))
    per_paper = max(MIN_PAPER_SECONDS, budget / (2 * len(papers)))
    single = {role: _single_paper_spec(spec, role, per_paper) for role in (True, False)}
    selection = []
    for name, mask in zip(papers, masks, strict=True):
        chosen = _assemble_alone(pool, mask, single[name.startswith("main")], None)
        if chosen is None:
            return None
        selection.append(chosen)
    target = spec.information
    if target is None or tif is None or target.parallel_band is None or len(papers) < 2:
        return np.array(selection)
    achieved = np.array([tif[chosen].sum(axis=0) for chosen in selection])
    floor = achieved.min(axis=0)
    band = (floor, (1 + target.parallel_band) * floor * (1 - 1e-6))
    for f, name in enumerate(papers):
        if np.all(achieved[f] <= band[1]):
            continue
        chosen = _assemble_alone(pool, masks[f], single[name.startswith("main")], band)
        if chosen is None:
            return None
        selection[f] = chosen
    return np.array(selection)
