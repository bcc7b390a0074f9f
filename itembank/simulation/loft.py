"""LOFT simulation study (一人一卷): one assembled paper per simulated candidate, answers from the
item parameters at true θ, EAP scores on the bank scale, and the paper set checked again by the
independent LOFT verifier rather than trusted from the solver.

Two scores decide pass/fail, both reported: the reference TCC at θ̂ (the score-equivalent
reported score) and the raw 百分制 score on the candidate's own paper; the true status is the
reference TCC at true θ, so the classification shows what each score costs in wrong decisions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pandas as pd

import assembly
from assembly.bank import eligible_pool, item_scores, normalise_items
from assembly.spec import PaperSpec
from itembank.core_errors import core_errors
from itembank.simulation.candidates import answer_and_score, incidence, simulee_rng, true_abilities
from itembank.simulation.errors import feasible_reference, refuse_infeasible
from itembank.simulation.metrics import timing_summary
from itembank.simulation.result import SimulationReport


def simulate_loft(items: pd.DataFrame, spec: PaperSpec | dict[str, Any] | str | Path, candidates: int, *,
                  seed: int | None = None, theta: npt.ArrayLike | None = None,
                  progress: Callable[[int, int], None] | None = None) -> SimulationReport:
    """Assemble ``candidates`` LOFT papers, let simulees with true θ ~ N(0, 1) (or ``theta``) sit
    them, and report recovery, classification, exposure, overlap, violations and timings."""
    started = time.perf_counter()
    rng = simulee_rng(seed)
    with core_errors():
        spec = assembly.load_spec(spec)
        truth = true_abilities(candidates, rng, theta)
        result = assembly.assemble_loft(items, spec, candidates, seed=seed, progress=progress)
    refuse_infeasible(result.ok, result.status, result.diagnosis, "LOFT papers")
    reference = feasible_reference(result.reference)
    with core_errors():
        bank = normalise_items(items)
        pool_ids = eligible_pool(items, spec).table["item_id"]
        verification = assembly.verify_loft(items, spec, result.forms, reference)
    papers = [form.item_ids for form in result.forms]
    held = incidence(bank["item_id"], papers)
    answers, scores = answer_and_score(bank, held, truth, rng)
    raw = answers @ (item_scores(bank, spec) * 100.0 / spec.total_points)
    pass_mark = spec.equivalence.pass_mark
    true_score = reference.percent(truth, spec)
    reported = reference.percent(scores["theta"].to_numpy(), spec)
    simulees = pd.DataFrame({
        "candidate": scores["person_id"], "test": [form.name for form in result.forms],
        "length": held.sum(axis=1), "true_theta": truth, "theta": scores["theta"], "se": scores["se"],
        "true_score": true_score, "score": reported, "raw_score": raw,
        "true_passed": true_score >= pass_mark, "passed": reported >= pass_mark, "raw_passed": raw >= pass_mark,
    })
    return SimulationReport.measure(
        "loft", spec_name=spec.name, seed=seed, pass_mark=pass_mark, pass_theta=reference.pass_theta,
        simulees=simulees, held=held, item_ids=bank["item_id"], pool_ids=pool_ids,
        limits={"max_exposure": spec.loft.max_exposure, "max_mean_overlap": spec.loft.max_mean_overlap,
                "tcc_tolerance": spec.equivalence.tolerance},
        verification=verification, timings={"per_paper": timing_summary(result.paper_seconds)},
        started=started, engine={"status": result.status, "papers": len(papers),
                                 "reference_items": len(reference.item_ids)},
        equivalence=result.tcc,
    )
