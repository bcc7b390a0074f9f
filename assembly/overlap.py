"""Cross-paper families: overlap between papers and item-use limits.

Zero overlap needs no pair variables: an item is used at most once across the disjoint papers.
A positive main-main limit uses one of two formulations (``overlap.model``):

* ``shared`` (default, scales): a binary ``u[i]`` marks an item allowed in several mains; each
  main holds at most ``main_main`` such items (``v[p][i] ≥ x[p][i] + u[i] − 1``). Any two mains
  then share at most ``main_main`` items. It is a restriction of the exact rule (a paper cannot
  share k items with one paper and k other items with another) at n·(papers+1) extra columns.
* ``pairs`` (exact): ``w[p][q][i] ≥ x[p][i] + x[q][i] − 1`` for every pair, n·P(P−1)/2 columns.

Backups reuse the mains' item-use indicator, so "backups share nothing with any main" costs one
row per item instead of one per item and main.
"""

from __future__ import annotations

from itertools import combinations

import pulp

from assembly.model import AssemblyModel, overlap_group


def _pair_limit(model: AssemblyModel, p: int, q: int, limit: int) -> None:
    """Exact pairwise overlap count between two papers (one continuous w per item)."""
    name_p, name_q = model.form_names[p], model.form_names[q]
    shared = []
    for i in range(len(model.pool.table)):
        w = model.problem.add_variable(f"w_{p}_{q}_{i}", lowBound=0)
        model.define(w >= model.x[p][i] + model.x[q][i] - 1)
        shared.append(w)
    model.require(overlap_group((name_p, name_q)), pulp.lpSum(shared) <= limit)


def _main_use(model: AssemblyModel) -> list[pulp.LpAffineExpression]:
    """Per item: 1 if any main uses it (an expression when mains are disjoint, else a variable)."""
    mains = model.main_forms
    if model.spec.overlap.main_main == 0:
        return [model.uses(mains, i) for i in range(len(model.pool.table))]
    used = []
    for i in range(len(model.pool.table)):
        m = model.problem.add_variable(f"m_{i}", lowBound=0, upBound=1)
        for f in mains:
            model.define(m >= model.x[f][i])
        used.append(pulp.LpAffineExpression(m))
    return used


def _add_main_overlap(model: AssemblyModel) -> None:
    mains, limit = model.main_forms, model.spec.overlap.main_main
    n_items = len(model.pool.table)
    if len(mains) < 2:
        return
    group = overlap_group([model.form_names[f] for f in mains])
    if limit == 0:
        for i in range(n_items):
            model.require(group, model.uses(mains, i) <= 1)
        return
    if model.spec.overlap.model == "pairs":
        for p, q in combinations(mains, 2):
            _pair_limit(model, p, q, limit)
        return
    reused = [model.problem.add_variable(f"u_{i}", cat=pulp.LpBinary) for i in range(n_items)]
    for i in range(n_items):
        model.define(model.uses(mains, i) <= 1 + (len(mains) - 1) * reused[i])
    for f in mains:
        held = []
        for i in range(n_items):
            v = model.problem.add_variable(f"v_{f}_{i}", lowBound=0)
            model.define(v >= model.x[f][i] + reused[i] - 1)
            held.append(v)
        model.require(group, pulp.lpSum(held) <= limit)


def _add_backup_overlap(model: AssemblyModel) -> None:
    backups, mains = model.backup_forms, model.main_forms
    if not backups:
        return
    limits = model.spec.overlap
    n_items = len(model.pool.table)
    names = model.form_names
    if limits.backup_main == 0:
        used_by_main = _main_use(model)
        if limits.backup_backup == 0:
            for i in range(n_items):
                model.require(overlap_group(names), model.uses(backups, i) + used_by_main[i] <= 1)
        else:
            for b in backups:
                for i in range(n_items):
                    model.require(overlap_group([names[b]] + [names[f] for f in mains]),
                                  model.x[b][i] + used_by_main[i] <= 1)
    else:
        for b in backups:
            for f in mains:
                _pair_limit(model, b, f, limits.backup_main)
    if limits.backup_backup == 0 and limits.backup_main > 0:
        for i in range(n_items):
            model.require(overlap_group([names[b] for b in backups]), model.uses(backups, i) <= 1)
    elif limits.backup_backup > 0:
        for p, q in combinations(backups, 2):
            _pair_limit(model, p, q, limits.backup_backup)


def add_overlap_constraints(model: AssemblyModel) -> None:
    """Overlap limits between mains, between backups and mains, and among backups."""
    _add_main_overlap(model)
    _add_backup_overlap(model)


def add_item_use_constraints(model: AssemblyModel) -> None:
    """``exposure.max_item_uses``: one item enters at most that many of the new papers."""
    cap = model.spec.exposure.max_item_uses
    papers = range(len(model.form_names))
    if cap is None or cap >= len(model.form_names):
        return
    for i in range(len(model.pool.table)):
        model.require("item_use[all]", model.uses(papers, i) <= cap)
