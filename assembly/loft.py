"""LOFT (一人一卷): one paper per candidate, every paper under every content rule of the spec and
score-equivalent to the reference paper.

One single-paper model is built once (the spec's content families plus TCC band rows at the
pass-mark θ and its offsets) and handed to HiGHS once; each further paper only changes that
model in place (:class:`assembly.loft_solver.PaperSolver`): the objective prices each item by how
many papers already hold it (plus a seeded jitter, so papers differ), and items at the exposure
cap floor(r_max·N) get an upper bound of 0. Pricing by use keeps exposure flat, and flat exposure is what keeps the mean pairwise
overlap low (Σ C(uses, 2) / C(N, 2) / length); both are checked again by :func:`verify_loft`.

Before the first paper, :class:`assembly.loft_supply.SummedRows` asks whether N papers can exist at
all under the cap (every row summed over the N papers, one LP); when not, the session is refused
naming the rules that conflict and the least cap that would hold, instead of failing part-way.

The spec's ``forms``, ``overlap`` and ``information`` blocks are for fixed papers and do not
apply here; ``loft`` and ``equivalence`` do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assembly.bank import Pool, eligible_pool
from assembly.build import build_model
from assembly.diagnose import deletion_filter, describe, precheck
from assembly.equivalence import Reference, percent_curves, reference_from, reference_paper
from assembly.errors import RejectedSolution, SpecError
from assembly.loft_result import LoftResult
from assembly.loft_solver import PaperSolver
from assembly.loft_supply import SummedRows
from assembly.model import AssemblyModel
from assembly.objective import theta_label
from assembly.result import Form
from assembly.spec import PaperSpec, load_spec
from assembly.verify_loft import loft_figures, verify_loft

PAPER_SECONDS = 5.0
PAPER_GAP = 0.05
RETRIES = 2
SLACK = 1e-6


def candidate_names(candidates: int | Sequence[str]) -> list[str]:
    """Admission numbers (准考证号) as given, or C0001… for a count; duplicates refused."""
    if isinstance(candidates, int):
        if candidates < 1:
            raise SpecError("candidates must be at least 1", field="candidates")
        return [f"C{k + 1:04d}" for k in range(candidates)]
    names = [str(c) for c in candidates]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SpecError(f"candidate {name} appears more than once", field="candidates")
        seen.add(name)
    if not names:
        raise SpecError("the candidate list is empty", field="candidates")
    return names


def single_paper_spec(spec: PaperSpec) -> PaperSpec:
    """The spec of one candidate's paper: its content rules, no fixed-paper blocks."""
    return spec.model_copy(update={
        "forms": spec.forms.model_copy(update={"main": 1, "backup": 0}), "information": None})


def _as_if_fixed(spec: PaperSpec, papers: int, cap: int) -> PaperSpec:
    """N papers with no overlap limit, each item in at most ``cap`` of them: the pre-check's view."""
    return single_paper_spec(spec).model_copy(update={
        "forms": spec.forms.model_copy(update={"main": papers, "backup": 0}),
        "overlap": spec.overlap.model_copy(update={"main_main": spec.length}),
        "exposure": spec.exposure.model_copy(update={"max_item_uses": cap})})


def calibrated_pool(items: pd.DataFrame, spec: PaperSpec) -> Pool:
    """The eligible pool less items without a and b (no TCC), with their item sets."""
    pool = eligible_pool(items, spec)
    table = pool.table
    missing = table["a"].isna().to_numpy() | table["b"].isna().to_numpy()
    broken = set(table.loc[missing & table["set_id"].notna().to_numpy(), "set_id"])
    drop = missing | table["set_id"].isin(broken).to_numpy()
    if drop.any():
        pool = pool.subset(~drop)
        pool.removed = {**pool.removed, "uncalibrated (no a, b) or in a set with one": int(drop.sum())}
    return pool


def _add_tcc_band(model: AssemblyModel, reference: Reference, spec: PaperSpec) -> None:
    curves = percent_curves(model.pool.table, spec, reference.theta)
    tolerance = spec.equivalence.tolerance - SLACK
    for k, theta in enumerate(reference.theta):
        group = f"tcc[{model.form_names[0]}][{theta_label(round(float(theta), 3))}]"
        tcc = model.total(0, curves[:, k], np.ones(len(curves), dtype=bool))
        model.require(group, tcc >= float(reference.tcc[k]) - tolerance)
        model.require(group, tcc <= float(reference.tcc[k]) + tolerance)


def _infeasible(model: AssemblyModel, spec: PaperSpec, message: str, **figures: Any) -> LoftResult:
    conflicts, _ = deletion_filter(model, spec.solver)
    return LoftResult(status="infeasible", diagnosis=[describe(g, spec) for g in conflicts],
                      conflicts=conflicts, message=message, **figures)


def assemble_loft(items: pd.DataFrame, spec: PaperSpec | dict[str, Any] | str | Path,
                  candidates: int | Sequence[str], *, seed: int | None = None,
                  reference: Sequence[str] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> LoftResult:
    """One verified, score-equivalent paper per candidate; deterministic for a seed."""
    spec = load_spec(spec)
    names = candidate_names(candidates)
    seed = spec.solver.seed if seed is None else seed
    cap = max(1, math.floor(spec.loft.max_exposure * len(names)))
    pool = calibrated_pool(items, spec)
    findings = precheck(pool, _as_if_fixed(spec, len(names), cap))
    if findings:
        return LoftResult(status="infeasible", diagnosis=[f.sentence for f in findings],
                          conflicts=[f.constraint for f in findings if f.constraint != "bank"],
                          seed=seed, message=f"the bank is short for {len(names)} papers with "
                          f"item exposure at most {spec.loft.max_exposure:g}")
    anchor = (reference_from(items, spec, reference) if reference is not None
              else reference_paper(pool.table, spec, seed=seed))
    single = single_paper_spec(spec)
    model = build_model(pool, single)
    _add_tcc_band(model, anchor, spec)
    shortfall = SummedRows(model, len(names)).shortfall(cap)
    if shortfall is not None:
        least = ("" if shortfall.least_cap is None else
                 f"; summed over the papers they hold from {shortfall.least_cap} papers per item "
                 f"(max_exposure ≥ {shortfall.least_cap / len(names):.3g})")
        return LoftResult(status="infeasible", seed=seed, reference=anchor,
                          diagnosis=[describe(g, single) for g in shortfall.groups],
                          conflicts=shortfall.groups,
                          message=f"no {len(names)} papers meet these rules together with each item "
                          f"in at most {cap} of them (max_exposure {spec.loft.max_exposure:g}){least}")
    settings = spec.solver.model_copy(update={"time_limit": min(PAPER_SECONDS, spec.solver.time_limit),
                                              "gap": PAPER_GAP})
    rng = np.random.default_rng(seed)
    uses = np.zeros(len(pool.table), dtype=int)
    selection = np.zeros((len(names), len(pool.table)), dtype=bool)
    seen: set[bytes] = set()
    seconds: list[float] = []
    solver = PaperSolver(model, settings)
    for p, name in enumerate(names):
        started = time.perf_counter()
        for _attempt in range(RETRIES + 1):
            solver.price(uses + rng.random(len(uses)))
            chosen = solver.solve()
            if chosen is not None and chosen.tobytes() not in seen:
                break
        else:
            figures = {"seed": seed, "reference": anchor, "paper_seconds": seconds}
            if p == 0:
                return _infeasible(model, single, "no paper meets every rule and the TCC band",
                                   **figures)
            return LoftResult(status="not_solved", seed=seed, reference=anchor, paper_seconds=seconds,
                              diagnosis=[f"paper {p + 1} ({name}): no new paper meets every rule with "
                                         f"the items still under the exposure cap ({cap} papers)"],
                              message=f"{p} of {len(names)} papers assembled; none is returned")
        seen.add(chosen.tobytes())
        selection[p] = chosen
        uses += chosen
        solver.close(np.flatnonzero(chosen & (uses >= cap)))
        seconds.append(time.perf_counter() - started)
        if progress is not None:
            progress(p + 1, len(names))
    ids = pool.table["item_id"].to_numpy()
    forms = [Form(name, "loft", ids[row].tolist()) for name, row in zip(names, selection, strict=True)]
    attainment = verify_loft(items, spec, forms, anchor)
    broken = attainment.loc[~attainment["ok"], "constraint"].tolist()
    if broken:
        raise RejectedSolution(f"the LOFT papers break {len(broken)} rule(s): {', '.join(broken[:10])}; "
                               "no paper is returned", broken)
    tcc, exposure, max_exposure, overlap = loft_figures(items, spec, forms, anchor)
    return LoftResult(status="feasible", forms=forms, reference=anchor, tcc=tcc, exposure=exposure,
                      max_exposure=max_exposure, mean_overlap=overlap, attainment=attainment,
                      paper_seconds=seconds, seed=seed,
                      message=f"{len(forms)} papers, exposure cap {cap} papers per item")
