"""CAT simulation study: simulees with known θ sit shadow-test CATs (``itembank.adaptive``), and
every full-length test they were given is checked again by the independent verifier against the
CAT's own spec (the paper's rules at the CAT's length), not trusted from the shadow test.

The reported score is the reference TCC at θ̂ (the score a CAT candidate gets), the true status
the reference TCC at true θ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pandas as pd

import assembly
from assembly.bank import eligible_pool
from assembly.spec import PaperSpec, parse_spec
from itembank.adaptive import CatPool
from itembank.adaptive import simulate_cat as run_cats
from itembank.errors import ValidationError
from itembank.simulation.candidates import incidence, simulee_rng, true_abilities
from itembank.simulation.errors import core_errors
from itembank.simulation.metrics import (
    classification,
    exposure_summary,
    item_uses,
    mean_overlap,
    theta_recovery,
    timing_summary,
)
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


def verify_tests(items: pd.DataFrame, spec: PaperSpec, tests: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Every rule of ``spec`` on each test on its own (a CAT test is one candidate's paper), one row
    per test and check."""
    frames = [assembly.verify(items, spec, {name: list(ids)}) for name, ids in tests.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["form", "constraint", "ok"])


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
    sessions = run.sessions
    given = run.choices.groupby("candidate_id", sort=False)["item_id"].apply(list)
    tests = [given[c] for c in sessions["candidate_id"]]
    full = {c: t for c, t in zip(sessions["candidate_id"], tests, strict=True) if len(t) == pool.length}
    with core_errors():
        verification = verify_tests(pool.items, pool.shadow.spec, full)
    held = incidence(pool.items["item_id"], tests)
    uses = pd.Series(item_uses(held), index=pool.items["item_id"]).reindex(pool.item_ids, fill_value=0)
    pass_mark = spec.equivalence.pass_mark
    simulees = pd.DataFrame({
        "candidate": sessions["candidate_id"], "test": sessions["candidate_id"], "length": sessions["length"],
        "true_theta": sessions["true_theta"], "theta": sessions["theta"], "se": sessions["se"],
        "true_score": sessions["true_score"], "score": sessions["score"],
        "true_passed": sessions["true_passed"], "passed": sessions["passed"],
    })
    return SimulationReport(
        mode="cat", spec_name=spec.name, seed=seed, pass_mark=pass_mark, pass_theta=pool.reference.pass_theta,
        simulees=simulees, recovery=theta_recovery(truth, simulees["theta"]),
        classification={"reference_tcc": classification(simulees["true_score"], simulees["score"], pass_mark)},
        exposure=exposure_summary(pool.item_ids, uses.to_numpy(), len(tests)),
        mean_overlap=mean_overlap(held),
        limits={"max_exposure": spec.cat.max_exposure},
        verification=verification, timings={"per_choice": timing_summary(run.choice_seconds)},
        seconds=time.perf_counter() - started,
        engine={"length": pool.length, "checked_tests": len(full), "stopped_early": len(tests) - len(full),
                "max_conditional_exposure": run.summary()["max_conditional_exposure"],
                "exposure_control": run.summary()["exposure_control"]},
    )
