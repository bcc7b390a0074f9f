"""CAT simulation study: simulees with known θ sit shadow-test CATs (``itembank.adaptive``), and
every full-length test they were given is checked again by the independent verifier against the
CAT's own spec (the paper's rules at the CAT's length), not trusted from the shadow test.

The reported score is the reference TCC at θ̂ (the score a CAT candidate gets), the true status
the reference TCC at true θ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pandas as pd

import assembly
from assembly.bank import eligible_pool
from assembly.spec import PaperSpec, parse_spec
from itembank.adaptive import CatPool
from itembank.adaptive import simulate_cat as run_cats
from itembank.core_errors import core_errors
from itembank.errors import ValidationError
from itembank.simulation.candidates import incidence, simulee_rng, true_abilities
from itembank.simulation.metrics import timing_summary
from itembank.simulation.result import SimulationReport


def cat_spec(spec: PaperSpec, length: int | None, pool_size: int) -> PaperSpec:
    """The spec with ``cat.length`` overridden (validated again), refusing a CAT longer than the pool."""
    if length is not None:
        if length < 1:
            raise ValidationError(f"a CAT needs at least one item, not {length}", field="length")
        spec = parse_spec(spec.model_dump() | {"cat": spec.cat.model_dump() | {"length": length}})
    wanted = spec.cat.length or spec.length
    if wanted > pool_size:
        raise ValidationError(f"a CAT of {wanted} items cannot be drawn from a pool of {pool_size} eligible items",
                              field="length")
    return spec


def simulate_cat(items: pd.DataFrame, spec: PaperSpec | dict[str, Any] | str | Path, candidates: int, *,
                 seed: int | None = None, theta: npt.ArrayLike | None = None, length: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> SimulationReport:
    """Run one CAT per simulee (true θ ~ N(0, 1) or ``theta``), ``length`` items each (default
    ``spec.cat.length``), and report recovery, classification, exposure, overlap, violations and
    per-choice timings."""
    started = time.perf_counter()
    rng = simulee_rng(seed)
    with core_errors():
        paper_spec = assembly.load_spec(spec)
        spec = cat_spec(paper_spec, length, len(eligible_pool(items, paper_spec).table))
        truth = true_abilities(candidates, rng, theta)
        pool = CatPool.build(items, spec, seed=seed or 0)

    def fraction(done: float) -> None:
        if progress is not None:
            progress(round(done * len(truth)), len(truth))

    run = run_cats(pool, truth, rng, progress=fraction)
    sessions, tests = run.sessions, run.tests()
    with core_errors():
        verification = run.verification()
    simulees = pd.DataFrame({
        "candidate": sessions["candidate_id"], "test": sessions["candidate_id"], "length": sessions["length"],
        "true_theta": sessions["true_theta"], "theta": sessions["theta"], "se": sessions["se"],
        "true_score": sessions["true_score"], "score": sessions["score"],
        "true_passed": sessions["true_passed"], "passed": sessions["passed"],
    })
    checked = int((sessions["length"] == pool.length).sum())
    summary = run.summary()
    return SimulationReport.measure(
        "cat", spec_name=spec.name, seed=seed, pass_mark=spec.equivalence.pass_mark,
        pass_theta=pool.reference.pass_theta, simulees=simulees,
        held=incidence(pool.items["item_id"], list(tests.values())), item_ids=pool.items["item_id"],
        pool_ids=pool.item_ids, limits={"max_exposure": spec.cat.max_exposure}, verification=verification,
        timings={"per_choice": timing_summary(run.choice_seconds)}, started=started,
        engine={"length": pool.length, "checked_tests": checked, "stopped_early": len(sessions) - checked,
                "max_conditional_exposure": summary["max_conditional_exposure"],
                "exposure_control": summary["exposure_control"]},
    )
