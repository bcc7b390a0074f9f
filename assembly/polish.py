"""Pair re-assembly: re-solve two papers jointly, every other paper fixed, to close the last gap.

Unit swaps (:mod:`assembly.exchange`) stall where the better papers need a compound move: a
four-item set in for four single items, an enemy pair split across two papers, a per-element cap
that only a third item's leaving frees. Here the weakest paper and one partner are assembled again
as one small MIP over their own items plus every unused item (items pinned to several papers stay
exactly where they are), under every per-paper rule of the spec (:data:`CONTENT_FAMILIES`:
sections, blueprint, importance, per-element caps, difficulty, enemies, item sets), no item in
both, and the parallelism band held against the fixed papers' levels. The pair's weaker paper is
maximised, capped at the known bound so the solve stops once it reaches it. A result is kept only
when the pair's minimum rises and no paper falls below the old minimum, so the papers' sorted
levels rise lexicographically and a tie at the bottom is broken one paper at a time.
"""

from __future__ import annotations

import time

import numpy as np
import pulp

from assembly.bank import Pool
from assembly.constraints import CONTENT_FAMILIES
from assembly.exchange import BAND_SLACK, band_excess, weighted_information
from assembly.model import AssemblyModel
from assembly.solve import HIGHS_FEASIBLE_SOLUTION, relative_gap, solve_highs
from assembly.spec import PaperSpec

PAIR_SECONDS = (1.0, 6.0)
IMPROVEMENT = 1e-7
MARGIN = 1e-6
"""The band rows are tightened by this share, so papers read back from the solver (within its
feasibility tolerance) still meet the band exactly."""


def _pair_model(pool: Pool, spec: PaperSpec, names: list[str], rows: np.ndarray,
                fixed: np.ndarray, info: np.ndarray, levels: np.ndarray, bound: float,
                ) -> AssemblyModel:
    """Two papers over the pool items ``rows``; ``fixed`` [2, rows] holds each paper's items that
    never move (held at 1, and kept out of the other paper unless it holds them too);
    ``levels`` [paper, θ] are the other papers' weighted information, for the band."""
    sub = pool.subset(np.isin(np.arange(len(pool.table)), rows))
    problem = pulp.LpProblem("pair", pulp.LpMaximize)
    x = [[problem.add_variable(f"x_{f}_{i}", cat=pulp.LpBinary) for i in range(len(rows))]
         for f in range(2)]
    model = AssemblyModel(problem, sub, spec, names, x)
    for add_family in CONTENT_FAMILIES:
        add_family(model)
    stays: np.ndarray = np.any(fixed, axis=0)
    for i in range(len(rows)):
        if stays[i]:
            for f in range(2):
                x[f][i].lowBound = x[f][i].upBound = int(fixed[f, i])
        else:
            model.require("overlap[pair]", x[0][i] + x[1][i] <= 1)
    tif = info[rows]
    floor = problem.add_variable("floor", lowBound=0, upBound=bound)
    band = spec.information.parallel_band if spec.information is not None else None
    stretch = (1 + band) * (1 - MARGIN) if band is not None else 0.0
    for k in range(tif.shape[1]):
        totals = [model.total(f, tif[:, k], np.ones(len(rows), dtype=bool)) for f in range(2)]
        for f in range(2):
            model.define(totals[f] >= floor)
            if band is None:
                continue
            model.require("parallel[pair]", totals[f] <= stretch * totals[1 - f])
            if len(levels):
                model.require("parallel[pair]", totals[f] <= stretch * levels[:, k].min())
                model.require("parallel[pair]", stretch * totals[f] >= levels[:, k].max())
    problem += floor
    return model


def _reassemble(pool: Pool, spec: PaperSpec, selection: np.ndarray, stuck: np.ndarray,
                pair: tuple[int, int], info: np.ndarray, bound: float, seconds: float,
                ) -> np.ndarray | None:
    """The pair's two rows of a new selection, or None when the solver found none."""
    p, q = pair
    others = [f for f in range(len(selection)) if f not in pair]
    used_elsewhere = selection[others].any(axis=0) if others else np.zeros(selection.shape[1], bool)
    free = ~stuck & ~used_elsewhere
    rows = np.flatnonzero(free | (stuck & (selection[p] | selection[q])))
    fixed = np.array([selection[f, rows] & stuck[rows] for f in pair])
    levels = selection[others].astype(float) @ info
    names = [spec.form_names[f] for f in pair]
    model = _pair_model(pool, spec, names, rows, fixed, info, levels, bound)
    start = {v: float(selection[f, rows[i]]) for f, xs in zip(pair, model.x, strict=True)
             for i, v in enumerate(xs)}
    settings = spec.solver.model_copy(update={"time_limit": seconds, "gap": spec.solver.gap / 4})
    highs, _, _ = solve_highs(model.problem, settings, start=start)
    if highs.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
        return None
    values = np.asarray(highs.getSolution().col_value)
    chosen = np.zeros((2, selection.shape[1]), dtype=bool)
    for f, xs in enumerate(model.x):
        chosen[f, rows[[values[v.index] > 0.5 for v in xs]]] = True
    return chosen


def polish(pool: Pool, spec: PaperSpec, selection: np.ndarray, stuck: np.ndarray,
           deadline: float, bound: float, clock: float, max_pairs: int | None = None,
           ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Re-assemble the weakest paper with each partner in turn (strongest first) until the gap to
    ``bound`` is within tolerance, the deadline, ``max_pairs`` re-solves, or no partner lifts it;
    ``stuck`` items (pinned to several papers) never move. Returns the papers and the
    (seconds, objective) record of each rise of the minimum."""
    assert spec.information is not None
    band = spec.information.parallel_band
    info = weighted_information(pool, spec)
    levels = selection.astype(float) @ info
    trajectory: list[tuple[float, float]] = []
    solves = 0
    while True:
        value = float(levels.min())
        gap = relative_gap(value, bound)
        if gap is not None and gap <= spec.solver.gap:
            return selection, trajectory
        weakest = levels.min(axis=1)
        p = int(np.argmin(weakest))
        lifted = False
        for q in np.argsort(-weakest, kind="stable"):
            remaining = deadline - time.perf_counter()
            if remaining < PAIR_SECONDS[0] or (max_pairs is not None and solves >= max_pairs):
                return selection, trajectory
            if q == p:
                continue
            seconds = float(np.clip(remaining / 4, *PAIR_SECONDS))
            chosen = _reassemble(pool, spec, selection, stuck, (p, int(q)), info, bound, seconds)
            solves += 1
            if chosen is None:
                continue
            trial = selection.copy()
            trial[[p, q]] = chosen
            new = trial.astype(float) @ info
            rises = new[[p, q]].min() > weakest[p] + IMPROVEMENT * max(1.0, value)
            parallel = band is None or band_excess(new, band) <= BAND_SLACK
            if rises and parallel and new.min() >= value:
                selection, levels, lifted = trial, new, True
                if new.min() > value + IMPROVEMENT * max(1.0, value):
                    trajectory.append((time.perf_counter() - clock, float(new.min())))
                break
        if not lifted:
            return selection, trajectory
