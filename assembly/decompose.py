"""Decomposition for papers with identical rules: a shadow paper for all of them, then a deal.

When every paper obeys the same rules and no two papers may share an item, summing the N papers'
rows gives a relaxation with one column per item: the *shadow* paper holds N times each section,
blueprint count and tolerance, enemy groups may hold up to N members, and its mean information at
each θ is at least the papers' minimum. So

* the shadow's proven MIP bound bounds every feasible set of papers (usually tighter than the full
  model's root LP), and
* its LP optimum *equals* the full model's LP bound: averaging any fractional full solution over
  the papers keeps it feasible and keeps the floor, so a symmetric optimum exists, and a symmetric
  solution is the shadow's solution divided by N (``tests/assembly/test_decompose.py`` checks it).

When mains may share items (backups still apart), mains and backups are two shadows; the mains'
column counts how many mains use an item (one binary per level), and the pairs they share,
Σ C(uses, 2), stay within the limit times the number of pairs: the pairwise rule summed, so
still a relaxation, and a valid bound for both overlap formulations.

Papers then follow the shadow: items it shares are pinned to mains within the pairwise limit and
each main's caps (:func:`share_out`), the rest of the pool is dealt by role and each paper
assembled alone (:mod:`assembly.warmstart`), and unit exchange (:mod:`assembly.exchange`: item
sets move whole, enemy rows checked per swap) evens them out; where swaps stall, pair
re-assembly (:mod:`assembly.polish`) and exchange take turns until the gap to the shadow's bound
is within tolerance or time runs out. The pool reaching here has already lost the units no
paper can hold (:mod:`assembly.fit`), which would loosen the shadow. The bound reported is always
the shadow's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pulp

from assembly.bank import Pool, enemy_members
from assembly.constraints import CONTENT_FAMILIES, add_enemy_constraints
from assembly.exchange import exchange, movable_items
from assembly.fit import paper_caps
from assembly.information import item_information
from assembly.model import AssemblyModel
from assembly.objective import information_matrix
from assembly.polish import polish
from assembly.solve import (
    HIGHS_FEASIBLE_SOLUTION,
    SolverOutcome,
    relative_gap,
    solve_highs,
    stop_status,
)
from assembly.spec import PaperSpec
from assembly.warmstart import warm_start

SHADOW_SHARE = 0.15
DEAL_SHARE = 0.2
EXCHANGE_PATIENCE = 2
SHARE_SECONDS = 2.0
KICK_PATIENCE = 2
POLISH_PAIRS = 2
MIN_STAGE_SECONDS = 1.0


def decomposable(spec: PaperSpec) -> bool:
    """Max-min papers with identical rules (no anchors), backups sharing nothing: the cases the
    shadow relaxes (mains may share items up to their limit)."""
    limits = spec.overlap
    return (spec.information is not None and spec.information.objective == "maximin"
            and len(spec.form_names) > 1 and not spec.include
            and limits.backup_main == 0 and limits.backup_backup == 0)


@dataclass(frozen=True)
class Role:
    """Identical papers summed into one shadow column per item: ``papers`` of them, and how many
    of them one item may enter (``reuse`` = 1 when they share nothing)."""

    papers: int
    reuse: int


def shadow_roles(spec: PaperSpec) -> list[Role]:
    """All papers as one role when no two share an item; else the mains (sharing) and backups."""
    mains, backups = spec.forms.main, spec.forms.backup
    reuse = min(mains, spec.exposure.max_item_uses or mains)
    if spec.overlap.main_main == 0 or reuse == 1:
        return [Role(mains + backups, 1)]
    return [Role(mains, reuse)] + ([Role(backups, 1)] if backups else [])


def shadow_spec(spec: PaperSpec, n: int) -> PaperSpec:
    """The spec of one paper standing for n: counts, totals and tolerances times n."""
    difficulty = spec.difficulty
    if difficulty is not None:
        difficulty = difficulty.model_copy(update={"tolerance": n * difficulty.tolerance})
    return spec.model_copy(update={
        "total_points": n * spec.total_points,
        "sections": [s.model_copy(update={
            "count": n * s.count, "total": None if s.total is None else n * s.total})
            for s in spec.sections],
        "blueprint": [r.model_copy(update={
            key: None if getattr(r, key) is None else n * getattr(r, key)
            for key in ("count", "min_count", "max_count", "tolerance")})
            for r in spec.blueprint],
        "max_per_element": None if spec.max_per_element is None else n * spec.max_per_element,
        "difficulty": difficulty,
        "forms": spec.forms.model_copy(update={"main": 1, "backup": 0}),
    })


def _add_shadow_enemies(model: AssemblyModel, papers: int) -> None:
    """n papers hold at most one member of an enemy group each, so the shadow holds at most n."""
    members = enemy_members(model.pool.table)
    for g in sorted(members):
        if len(members[g]) > papers:
            mask = np.zeros(len(model.pool.table), dtype=bool)
            mask[members[g]] = True
            model.require(f"enemy[shadow][{g}]", model.count(0, mask) <= papers)


def _add_sharing_limits(problem: pulp.LpProblem, uses: list[pulp.LpVariable],
                        backups: list[pulp.LpVariable] | None, role: Role, limit: int) -> None:
    """Mains: an item enters exactly m of them or none (one binary per level m), and the pairs
    they share, Σ_i C(m_i, 2), stay within limit·C(M, 2), the pairwise limit summed over all
    pairs. Backups take only items no main uses. Levels make the LP far tighter than a single
    integer count: a backup's share of an item leaves only the rest of it free for the mains."""
    pairs = []
    for i, used in enumerate(uses):
        levels = [problem.add_variable(f"level_{i}_{m}", cat=pulp.LpBinary)
                  for m in range(1, role.reuse + 1)]
        problem += used == pulp.lpSum(m * t for m, t in enumerate(levels, start=1))
        problem += pulp.lpSum(levels) + (backups[i] if backups is not None else 0) <= 1
        pairs += [(t, math.comb(m, 2)) for m, t in enumerate(levels, start=1) if m > 1]
    problem += pulp.LpAffineExpression(pairs) <= limit * math.comb(role.papers, 2)


@dataclass
class ShadowModel:
    """The shadow problem and its columns: per role, how many of its papers use each item."""

    problem: pulp.LpProblem
    roles: list[Role]
    uses: list[list[pulp.LpVariable]]


def build_shadow(pool: Pool, spec: PaperSpec) -> ShadowModel:
    """The shadow model: per role one column per item, the papers' rows summed, and the weakest
    role's mean weighted information (an upper bound on every paper's minimum) maximised. With
    two roles the band also holds between their means (each mean lies between the smallest and
    the largest paper, so this relaxes the band)."""
    assert spec.information is not None
    problem = pulp.LpProblem("shadow", pulp.LpMaximize)
    floor = problem.add_variable("min_information", lowBound=0)
    weights = spec.information.weights or [1.0] * len(spec.information.theta)
    roles = shadow_roles(spec)
    uses = []
    means: list[list[pulp.LpAffineExpression]] = []
    for r, role in enumerate(roles):
        cat = pulp.LpBinary if role.reuse == 1 else pulp.LpInteger
        column = [problem.add_variable(f"x_{r}_{i}", lowBound=0, upBound=role.reuse, cat=cat)
                  for i in range(len(pool.table))]
        model = AssemblyModel(problem, pool, shadow_spec(spec, role.papers), [f"shadow-{r}"],
                              [column])
        for add_family in CONTENT_FAMILIES:
            if add_family is not add_enemy_constraints:
                add_family(model)
        _add_shadow_enemies(model, role.papers)
        tif = information_matrix(model)
        for k, weight in enumerate(weights):
            model.define(model.total(0, tif[:, k]) >= role.papers * weight * floor)
        uses.append(column)
        means.append([model.total(0, tif[:, k]) / role.papers for k in range(tif.shape[1])])
    band = spec.information.parallel_band
    if band is not None and len(roles) == 2:
        for first, second in (means, means[::-1]):
            for k in range(len(weights)):
                problem += first[k] <= (1 + band) * second[k]
    if roles[0].reuse > 1:
        _add_sharing_limits(problem, uses[0], uses[1] if len(uses) > 1 else None, roles[0],
                            spec.overlap.main_main)
    problem += floor
    return ShadowModel(problem, roles, uses)


@dataclass
class Shadow:
    """How many papers of each role the shadow puts each item in ([role, item]), and its bounds on
    the papers' objective (MIP bound and root LP bound, both valid)."""

    roles: list[Role]
    uses: np.ndarray
    bound: float
    lp_bound: float

    @property
    def main_uses(self) -> np.ndarray:
        """How many mains use each item, where mains may share (else zeros)."""
        return self.uses[0] if self.roles[0].reuse > 1 else np.zeros(self.uses.shape[1], int)

    def dealt_to(self, spec: PaperSpec) -> np.ndarray:
        """[paper, item]: items the shadow gave one role are dealt only to that role's papers
        (keeping the balance between roles it found); items it left out go to any paper."""
        if len(self.roles) == 1:
            return np.ones((len(spec.form_names), self.uses.shape[1]), dtype=bool)
        mains, backups = self.uses > 0
        free = ~mains & ~backups
        return np.array([(mains if name.startswith("main") else backups) | free
                         for name in spec.form_names])


def shadow_lp_bound(pool: Pool, spec: PaperSpec) -> float | None:
    """The shadow's root LP bound; with all papers disjoint, equal to the full model's."""
    model = build_shadow(pool, spec)
    highs, _, _ = solve_highs(model.problem, spec.solver, relax=True)
    if highs.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
        return None
    return float(-highs.getInfo().objective_function_value)


def solve_shadow(pool: Pool, spec: PaperSpec, seconds: float) -> Shadow | None:
    """Solve the shadow MIP; None when it finds no selection (then the full model must decide)."""
    model = build_shadow(pool, spec)
    settings = spec.solver.model_copy(update={"time_limit": seconds, "gap": spec.solver.gap / 4})
    lp, _, _ = solve_highs(model.problem, settings, relax=True)
    if lp.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
        return None
    lp_bound = float(-lp.getInfo().objective_function_value)
    highs, _, _ = solve_highs(model.problem, settings)
    info = highs.getInfo()
    if info.primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
        return None
    values = np.asarray(highs.getSolution().col_value)
    uses = np.round([[values[v.index] for v in column] for column in model.uses]).astype(int)
    return Shadow(model.roles, uses, min(lp_bound, float(-info.mip_dual_bound)), lp_bound)


def share_out(pool: Pool, spec: PaperSpec, main_uses: np.ndarray) -> np.ndarray:
    """[paper, item]: the items the shadow puts in several mains, pinned to mains by a small MIP
    so that no two mains share more than their limit and no main exceeds a per-paper cap (a
    section's count, a blueprint cell, ``max_per_element``, an enemy group). It keeps as much of
    the shadow's shared information as it can, then the weakest main's share: the shadow's
    sharing is a summed relaxation, so all of it cannot always be realised (a greedy deal, the
    earlier way, stranded items in the shadow's last pair slots). An item enters between two and
    as many mains as the shadow gave it, or none. Items in sets and anchors are left to the deal
    (they are never shared)."""
    assert spec.information is not None
    table = pool.table
    mains, limit = spec.forms.main, spec.overlap.main_main
    pinned = np.zeros((len(spec.form_names), len(table)), dtype=bool)
    candidates = np.flatnonzero((main_uses >= 2) & movable_items(pool, spec)
                                & table["set_id"].isna().to_numpy())
    if not len(candidates):
        return pinned
    information = item_information(table["a"], table["b"], table["c"],
                                   spec.information.theta).sum(axis=1)[candidates]
    caps = paper_caps(pool, spec)
    rows = caps.rows[candidates]
    capped = np.flatnonzero(np.isfinite(caps.upper) & np.any(rows != 0, axis=0))
    problem = pulp.LpProblem("share_out", pulp.LpMaximize)
    z = [[problem.add_variable(f"z_{k}_{p}", cat=pulp.LpBinary) for p in range(mains)]
         for k in range(len(candidates))]
    weakest = problem.add_variable("weakest", lowBound=0)
    for k, i in enumerate(candidates):
        on = problem.add_variable(f"on_{k}", cat=pulp.LpBinary)
        problem += pulp.lpSum(z[k]) >= 2 * on
        problem += pulp.lpSum(z[k]) <= int(main_uses[i]) * on
    for p, q in combinations(range(mains), 2):
        both = [problem.add_variable(f"w_{k}_{p}_{q}", lowBound=0) for k in range(len(candidates))]
        for k, w in enumerate(both):
            problem += w >= z[k][p] + z[k][q] - 1
        problem += pulp.lpSum(both) <= limit
    for p in range(mains):
        for r in capped:
            problem += pulp.lpSum(float(rows[k, r]) * z[k][p] for k in np.flatnonzero(rows[:, r])) \
                <= float(caps.upper[r])
        problem += weakest <= pulp.lpSum(float(information[k]) * z[k][p]
                                         for k in range(len(candidates)))
    problem += pulp.lpSum(float(information[k]) * z[k][p] for k in range(len(candidates))
                          for p in range(mains)) + weakest
    settings = spec.solver.model_copy(update={"time_limit": SHARE_SECONDS})
    highs, _, _ = solve_highs(problem, settings)
    if highs.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
        return pinned
    values = np.asarray(highs.getSolution().col_value)
    for k, i in enumerate(candidates):
        for p in range(mains):
            pinned[p, i] = values[z[k][p].index] > 0.5
    return pinned


def _exchange_and_polish(pool: Pool, spec: PaperSpec, selection: np.ndarray, stuck: np.ndarray,
                         clock: float, bound: float, trajectory: list[tuple[float, float]],
                         ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Pair re-assembly and unit exchange in turn, from papers the exchange left, until the gap
    or the deadline; after a round that lifts nothing the exchange kicks longer before it hands
    back (random swaps give the pairs new papers to work on). The record keeps each rise."""
    deadline = clock + spec.solver.time_limit
    patience = EXCHANGE_PATIENCE

    def settled() -> bool:
        gap = relative_gap(trajectory[-1][1], bound)
        return time.perf_counter() >= deadline or (gap is not None and gap <= spec.solver.gap)

    while not settled():
        reached = trajectory[-1][1]
        selection, steps = polish(pool, spec, selection, stuck, deadline, bound, clock,
                                  max_pairs=POLISH_PAIRS)
        trajectory += steps
        if settled():
            break
        swapped, steps = exchange(pool, spec, selection, deadline, bound, clock, pinned=stuck,
                                  patience=patience)
        if swapped is not None:
            selection = swapped
            trajectory += [(t, v) for t, v in steps if v > trajectory[-1][1]]
        lifted = trajectory[-1][1] > reached
        patience = EXCHANGE_PATIENCE if lifted else patience + KICK_PATIENCE
    return selection, trajectory


def solve_by_decomposition(pool: Pool, spec: PaperSpec) -> SolverOutcome | None:
    """Shadow (bound, items, roles, shared items) → shared items pinned to mains, the rest dealt
    by role and each paper assembled alone → exchange, then pair re-assembly and exchange in
    turn, until the deadline or the gap; None when
    the shadow or the deal finds nothing (the caller then runs the full model, which also
    settles infeasibility)."""
    clock = time.perf_counter()
    limit = spec.solver.time_limit
    shadow = solve_shadow(pool, spec, max(MIN_STAGE_SECONDS, SHADOW_SHARE * limit))
    if shadow is None:
        return None
    assert spec.information is not None
    unbanded = spec.model_copy(update={"information": spec.information.model_copy(
        update={"parallel_band": None})})
    pinned = share_out(pool, spec, shadow.main_uses)
    dealt = warm_start(pool, unbanded, DEAL_SHARE * limit, pinned, shadow.dealt_to(spec))
    if dealt is None:
        return None
    stuck = np.any(pinned, axis=0)
    selection, trajectory = exchange(pool, spec, dealt, clock + limit, shadow.bound, clock,
                                     pinned=stuck, patience=EXCHANGE_PATIENCE)
    if selection is None:
        return None
    selection, trajectory = _exchange_and_polish(pool, spec, selection, stuck, clock, shadow.bound,
                                                 trajectory)
    objective = trajectory[-1][1]
    status, stop = stop_status(objective, shadow.bound, spec.solver.gap)
    return SolverOutcome(
        status, "highs", selection=selection, objective=objective, best_bound=shadow.bound,
        gap=relative_gap(objective, shadow.bound), solve_time=time.perf_counter() - clock,
        trajectory=trajectory,
        message=f"decomposition: shadow bound {shadow.bound:.4g} (root LP {shadow.lp_bound:.4g}); "
                f"{stop}")
