"""``assemble``: pool → units that fit one paper → pre-check → model → solver → independent verification → result.

The engine never hands out a paper the verifier rejects: a solver answer that breaks any rule
raises :class:`RejectedSolution` naming the broken constraints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assembly.bank import Pool, eligible_pool
from assembly.build import build_model
from assembly.decompose import decomposable, solve_by_decomposition
from assembly.diagnose import deletion_filter, describe, precheck
from assembly.errors import RejectedSolution
from assembly.fit import fitting_pool
from assembly.result import AssemblyResult, Form
from assembly.solve import SolverOutcome, run_solver
from assembly.spec import PaperSpec, load_spec
from assembly.verify import verify
from assembly.warmstart import warm_start

WARM_START_SHARE = 0.3
MIN_SOLVE_SECONDS = 1.0


def _with_seed(spec: PaperSpec, seed: int | None) -> PaperSpec:
    if seed is None:
        return spec
    return spec.model_copy(update={"solver": spec.solver.model_copy(update={"seed": seed})})


def forms_from_selection(pool: Pool, spec: PaperSpec, selection: np.ndarray) -> list[Form]:
    """Papers from a [paper, item] selection, items ordered by section, then element, then id."""
    section_rank = {s.type: k for k, s in enumerate(spec.sections)}
    table = pool.table.assign(_section=pool.table["type"].map(section_rank))
    forms = []
    for name, chosen in zip(spec.form_names, selection, strict=True):
        paper = table[chosen].sort_values(["_section", "element", "item_id"])
        forms.append(Form(name, name.split("-")[0], paper["item_id"].tolist()))
    return forms


def accept(items: pd.DataFrame, spec: PaperSpec, pool: Pool, outcome: SolverOutcome,
           build_time: float) -> AssemblyResult:
    """Turn a solver outcome with papers into a result, after independent verification."""
    assert outcome.selection is not None
    forms = forms_from_selection(pool, spec, outcome.selection)
    attainment = verify(items, spec, {f.name: f.item_ids for f in forms})
    broken = attainment.loc[~attainment["ok"], "constraint"].tolist()
    if broken:
        raise RejectedSolution(
            f"the {outcome.solver} answer breaks {len(broken)} rule(s): {', '.join(broken[:10])}; "
            "no paper is returned", broken)
    return AssemblyResult(
        status=outcome.status, forms=forms, attainment=attainment, objective=outcome.objective,
        best_bound=outcome.best_bound, gap=outcome.gap, solver=outcome.solver,
        solve_time=outcome.solve_time, build_time=build_time, seed=spec.solver.seed,
        trajectory=outcome.trajectory, message=outcome.message)


def assemble(items: pd.DataFrame, spec: PaperSpec | dict[str, Any] | str | Path, *,
             seed: int | None = None) -> AssemblyResult:
    """Assemble all main and backup papers of a spec at once; deterministic for a given seed."""
    spec = _with_seed(load_spec(spec), seed)
    pool = fitting_pool(eligible_pool(items, spec), spec)
    findings = precheck(pool, spec)
    if findings:
        return AssemblyResult(
            status="infeasible", solver=spec.solver.name, seed=spec.solver.seed,
            diagnosis=[f.sentence for f in findings],
            conflicts=[f.constraint for f in findings if f.constraint != "bank"],
            message="the pre-check found the bank short of what the spec demands")
    started = time.perf_counter()
    deadline = started + spec.solver.time_limit
    if spec.solver.decompose and spec.solver.name == "highs" and decomposable(spec):
        decomposed = solve_by_decomposition(pool, spec)
        if decomposed is not None:
            return accept(items, spec, pool, decomposed, 0.0)
    budget = max(MIN_SOLVE_SECONDS, deadline - time.perf_counter())
    start = warm_start(pool, spec, WARM_START_SHARE * budget) if spec.solver.warm_start else None
    model = build_model(pool, spec)
    build_time = time.perf_counter() - started
    remaining = max(MIN_SOLVE_SECONDS, deadline - time.perf_counter())
    outcome = run_solver(model, spec.solver.model_copy(update={"time_limit": remaining}), start)
    outcome.trajectory = [(seconds + build_time, value) for seconds, value in outcome.trajectory]
    if outcome.status == "infeasible":
        conflicts, complete = deletion_filter(model, spec.solver)
        note = "" if complete else " (search cut short: the set may not be minimal)"
        return AssemblyResult(
            status="infeasible", solver=outcome.solver, solve_time=outcome.solve_time,
            build_time=build_time, seed=spec.solver.seed,
            diagnosis=[describe(group, spec) for group in conflicts], conflicts=conflicts,
            message=f"these requirements cannot all be met together{note}")
    if outcome.selection is None:
        return AssemblyResult(status="not_solved", solver=outcome.solver,
                              solve_time=outcome.solve_time, build_time=build_time,
                              seed=spec.solver.seed, message=outcome.message)
    return accept(items, spec, pool, outcome, build_time)
