"""Build the full assembly MIP from the eligible pool and the spec, one family at a time."""

from __future__ import annotations

import pulp

from assembly.bank import Pool
from assembly.constraints import CONTENT_FAMILIES
from assembly.model import AssemblyModel
from assembly.objective import add_objective, add_symmetry_breaking
from assembly.overlap import add_item_use_constraints, add_overlap_constraints
from assembly.spec import PaperSpec


def build_model(pool: Pool, spec: PaperSpec) -> AssemblyModel:
    """All papers in one model (simultaneous assembly), so no paper starves another."""
    names = spec.form_names
    maximin = spec.information is not None and spec.information.objective == "maximin"
    problem = pulp.LpProblem("assembly", pulp.LpMaximize if maximin else pulp.LpMinimize)
    x = [[problem.add_variable(f"x_{f}_{i}", cat=pulp.LpBinary) for i in range(len(pool.table))]
         for f in range(len(names))]
    model = AssemblyModel(problem, pool, spec, names, x)
    for add_family in CONTENT_FAMILIES:
        add_family(model)
    add_overlap_constraints(model)
    add_item_use_constraints(model)
    add_objective(model)
    if spec.solver.symmetry_breaking:
        add_symmetry_breaking(model)
    return model
