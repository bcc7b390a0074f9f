"""The PyPI ``mirt`` package's parallel-form assembler as a peer on the standard problems.

mirt (1.2, installed by ``pip install -e .[bench]``) has
``mirt.cat.parallel_assembly.assemble_parallel_forms``: one joint max-min MILP
(``scipy.optimize.milp``, i.e. HiGHS) over a pool, with content areas as count ranges on disjoint
item groups, enemy pairs, item bundles, anchors, an item-usage limit and one pairwise-overlap
limit for all pairs. It has no points-weighted blueprint, no importance share, no parallelism band
and no separate rule for backups, so the spec is translated as a user would: every (item type,
module) cell becomes an area with an exact count, apportioned from the module weights by largest
remainder; importance and band are left out. Its papers then go through our verifier, and the
rules they break are reported beside their information.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from assembly import verify
from assembly.bank import eligible_pool, enemy_members, under_node
from assembly.information import item_information
from assembly.spec import PaperSpec

STATABLE = ("P2", "P2-5000")  # two or more papers, all sharing nothing


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of ``total`` items by weights."""
    quotas = np.array(weights) / sum(weights) * total
    counts = np.floor(quotas).astype(int)
    for k in np.argsort(-(quotas - counts), kind="stable")[: total - counts.sum()]:
        counts[k] += 1
    return counts.tolist()


def cell_areas(pool: pd.DataFrame, spec: PaperSpec) -> list[tuple[str, set[int], int]]:
    """(name, pool rows, exact count) per (type, blueprint node) cell."""
    weights = [rule.weight or 0.0 for rule in spec.blueprint]
    areas = []
    for section in spec.sections:
        of_type = (pool["type"] == section.type).to_numpy()
        for rule, count in zip(spec.blueprint, _apportion(section.count, weights), strict=True):
            rows = set(np.flatnonzero(of_type & under_node(pool["element"], rule.node)).tolist())
            areas.append((f"{section.type}|{rule.node}", rows, count))
    return areas


def mirt_papers(bank: pd.DataFrame, spec: PaperSpec) -> dict[str, Any]:
    """Run mirt's assembler on a spec's disjoint papers; the papers, their objective (smallest
    information over papers and θ), wall time, and the verifier's broken rules."""
    from mirt.cat.content import ContentArea, ContentBlueprint
    from mirt.cat.parallel_assembly import assemble_parallel_forms
    from mirt.models.dichotomous import TwoParameterLogistic

    assert spec.information is not None
    pool = eligible_pool(bank, spec).table
    model = TwoParameterLogistic(n_items=len(pool))
    model.set_parameters(discrimination=pool["a"].to_numpy(), difficulty=pool["b"].to_numpy())
    blueprint = ContentBlueprint([ContentArea(name, items=rows, min_items=count, max_items=count)
                                  for name, rows, count in cell_areas(pool, spec)])
    enemies = [(p, q) for rows in enemy_members(pool).values() for k, p in enumerate(rows) for q in rows[k + 1:]]
    bundles = [list(rows) for rows in pool.groupby("set_id").indices.values()]
    started = time.perf_counter()
    result = assemble_parallel_forms(
        model, len(spec.form_names), sum(s.count for s in spec.sections),
        spec.information.theta, blueprint=blueprint, enemy_pairs=enemies, item_bundles=bundles,
        max_item_usage=1, solver_options={"time_limit": spec.solver.time_limit,
                                          "mip_rel_gap": spec.solver.gap})
    wall = time.perf_counter() - started
    forms = {name: pool["item_id"].iloc[list(form.selected_items)].tolist()
             for name, form in zip(spec.form_names, result.forms, strict=True)}
    information = item_information(pool["a"], pool["b"], pool["c"], spec.information.theta)
    rows = pool["item_id"].to_numpy()
    objective = min(float(information[np.isin(rows, ids)].sum(axis=0).min())
                    for ids in forms.values())
    report = verify(bank, spec, forms)
    broken = sorted({c.split("[")[0] for c in report.loc[~report["ok"], "constraint"]})
    return {"forms": forms, "objective": objective, "wall": wall, "broken": broken,
            "optimal": bool(result.is_optimal)}
