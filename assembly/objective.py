"""What the model optimises, and the parallelism band that keeps papers interchangeable.

* ``maximin``: maximise y with TIF_p(θ_k) ≥ y_k ≥ w_k·y for every paper p and θ point k.
* ``target``: minimise d with |TIF_p(θ_k) − T_k| ≤ d and |TCC_p(θ_k) − τ_k| ≤ d (minimax).
* no information section: minimise total exposure, with a seeded jitter so each seed gives its
  own (reproducible) papers.

Max-min alone only sets a floor (measured: papers from TIF(0) = 21.9 to 32.3); the band
TIF_p(θ_k) ≤ (1 + band)·y_k caps every paper against the weakest one at each θ.
"""

from __future__ import annotations

import numpy as np
import pulp

from assembly.information import expected_score, item_information
from assembly.model import AssemblyModel

EXPOSURE_JITTER = 0.5


def information_matrix(model: AssemblyModel) -> np.ndarray:
    """Item information at the spec's θ points, items x θ."""
    table = model.pool.table
    assert model.spec.information is not None
    return item_information(table["a"], table["b"], table["c"], model.spec.information.theta)


def theta_label(theta: float) -> str:
    """The θ part of constraint names, e.g. ``parallel[θ=-1]``."""
    return f"θ={theta:g}"


def _add_parallel_band(model: AssemblyModel, tif: np.ndarray,
                       floors: list[pulp.LpVariable]) -> None:
    """Cap each paper's information at (1 + band) times the weakest paper's, θ by θ."""
    target = model.spec.information
    assert target is not None
    if target.parallel_band is None or len(model.form_names) < 2:
        return
    for k, theta in enumerate(target.theta):
        for f in range(len(model.form_names)):
            model.require(f"parallel[{theta_label(theta)}]",
                          model.total(f, tif[:, k]) <= (1 + target.parallel_band) * floors[k])


def add_objective(model: AssemblyModel) -> None:
    """Set the objective named by the spec (see the module docstring)."""
    target = model.spec.information
    papers = range(len(model.form_names))
    if target is None:
        rng = np.random.default_rng(model.spec.solver.seed)
        table = model.pool.table
        cost = table["exposure"].to_numpy(dtype=float) + EXPOSURE_JITTER * rng.random(len(table))
        model.problem += pulp.lpSum(model.total(f, cost) for f in papers)
        return
    tif = information_matrix(model)
    floors = [model.problem.add_variable(f"floor_{k}", lowBound=0) for k in range(len(target.theta))]
    for k in range(len(target.theta)):
        for f in papers:
            model.define(model.total(f, tif[:, k]) >= floors[k])
    _add_parallel_band(model, tif, floors)
    if target.objective == "maximin":
        y = model.problem.add_variable("min_information", lowBound=0)
        weights = target.weights or [1.0] * len(target.theta)
        for k, weight in enumerate(weights):
            model.define(floors[k] >= weight * y)
        model.problem += y
        return
    deviation = model.problem.add_variable("max_deviation", lowBound=0)
    table = model.pool.table
    curves = []
    if target.tif is not None:
        curves.append((tif, target.tif))
    if target.tcc is not None:
        curves.append((expected_score(table["a"], table["b"], table["c"], target.theta,
                                      model.pool.score), target.tcc))
    for values, goal in curves:
        for k, level in enumerate(goal):
            for f in papers:
                achieved = model.total(f, values[:, k])
                model.define(achieved - level <= deviation)
                model.define(level - achieved <= deviation)
    model.problem += deviation


def add_symmetry_breaking(model: AssemblyModel) -> None:
    """Order interchangeable papers (mains among themselves, backups likewise) by a key so the
    solver does not explore every relabelling of the same solution."""
    target = model.spec.information
    table = model.pool.table
    if target is not None:
        key = information_matrix(model)[:, 0]
    else:
        key = np.arange(1, len(table) + 1, dtype=float)
    for role in (model.main_forms, model.backup_forms):
        for p, q in zip(role, role[1:], strict=False):
            model.define(model.total(p, key) >= model.total(q, key))
