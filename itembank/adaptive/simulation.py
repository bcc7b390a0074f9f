"""Simulated CAT administrations: known abilities in, recovered θ̂, scores, exposure and timings
out, with the exposure control learning its eligibility probabilities candidate by candidate.

Answers are drawn from each item's 3PL curve at the simulee's true θ with the caller's
generator; everything else a session does is what an engine would do (its eligibility draws
come from the pool seed and the candidate id). The learned probabilities (``CatRun.eligibility``)
are what a pool is sealed with (``pool.with_eligibility``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from assembly.exposure_control import METHOD, Eligibility, ExposureControl, segment_of
from assembly.information import probability
from assembly.verify import verify
from itembank.adaptive.pool import CatPool
from itembank.adaptive.session import CatSession
from itembank.errors import ValidationError
from itembank.progress import Progress, silent

ExposureMode = Literal["learn", "sealed", "none"]
EXPOSURE_MODES: tuple[str, ...] = get_args(ExposureMode)
SIMULEE_PREFIX = "sim-"
MIN_SEGMENT_SHARE = 0.05


def segment_labels(cuts: list[float]) -> list[str]:
    """Readable names of the θ segments cut at ``cuts``, e.g. ``[-0.5,0.5)``."""
    edges = ["-inf", *(f"{c:g}" for c in cuts), "inf"]
    return [f"[{low},{high})" for low, high in zip(edges, edges[1:], strict=False)]


@dataclass
class CatRun:
    """A simulation's outcome. ``sessions``: one row per simulee (true θ, θ̂, SE, length, reported
    and true score, pass decisions); ``choices``: one row per item given (position, item, answer,
    θ̂ and SE after it, segment, seconds the choice took, solver status, penalised items);
    ``exposure``: per item and segment (``all`` first) the candidates, how many were given the
    item and the rate; ``eligibility``: the learned probabilities, without the online freeze
    (what a pool is sealed with), or the ones used when not learning."""

    sessions: pd.DataFrame
    choices: pd.DataFrame
    exposure: pd.DataFrame
    eligibility: Eligibility
    r_max: float
    exposure_control: str
    pool: CatPool

    @property
    def choice_seconds(self) -> np.ndarray:
        return self.choices["seconds"].to_numpy(dtype=float)

    def tests(self) -> dict[str, list[str]]:
        """Each simulee's items in the order given (every simulee, stopped early or not)."""
        given = self.choices.groupby("candidate_id", sort=False)["item_id"].apply(list)
        return {c: given.get(c, []) for c in self.sessions["candidate_id"]}

    def full_tests(self) -> dict[str, list[str]]:
        """The tests that reached the CAT's full length: the ones the paper's rules apply to."""
        return {c: ids for c, ids in self.tests().items() if len(ids) == self.pool.length}

    def verification(self) -> pd.DataFrame:
        """Every rule of the CAT's spec on each full-length test on its own (a test is one
        candidate's paper, named by the candidate), recomputed by the independent verifier
        rather than trusted from the shadow test: one row per test and check, ``ok`` each."""
        return verify(self.pool.items, self.pool.shadow.spec, self.full_tests(), across_papers=False)

    def violations(self) -> pd.DataFrame:
        """The broken rules of :meth:`verification`, one row per candidate and rule (empty when
        every test holds)."""
        checks = self.verification()
        broken = checks.loc[~checks["ok"].astype(bool), ["form", "constraint"]]
        return broken.rename(columns={"form": "candidate_id"}).reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """Headline figures; the conditional exposure is over segments that at least
        ``MIN_SEGMENT_SHARE`` of the candidates visited (in a rarely visited segment one
        candidate is a large share)."""
        error = self.sessions["theta"] - self.sessions["true_theta"]
        overall = self.exposure[self.exposure["segment"] == "all"]["rate"]
        conditional = self.exposure[(self.exposure["segment"] != "all") & (
            self.exposure["candidates"] >= MIN_SEGMENT_SHARE * len(self.sessions))]["rate"]
        milliseconds = 1000 * self.choice_seconds
        return {
            "simulees": len(self.sessions), "mean_length": float(self.sessions["length"].mean()),
            "rmse": float(np.sqrt(np.mean(error**2))), "bias": float(error.mean()),
            "mean_se": float(self.sessions["se"].mean()),
            "pass_agreement": float((self.sessions["passed"] == self.sessions["true_passed"]).mean()),
            "max_exposure": float(overall.max()), "max_conditional_exposure": float(conditional.max()),
            "forced_choices": int(self.choices["forced"].sum()),
            "r_max": self.r_max, "exposure_control": self.exposure_control,
            "method": METHOD if self.exposure_control == "learn" else (
                "sealed eligibility probabilities" if self.exposure_control == "sealed" else "none"),
            "p50_ms": float(np.median(milliseconds)), "p95_ms": float(np.percentile(milliseconds, 95)),
            "max_ms": float(milliseconds.max()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "sessions": self.sessions.to_dict(orient="records"),
                "eligibility": self.eligibility.to_dict()}


def _answer(session: CatSession, item_id: str, true_theta: float, rng: np.random.Generator) -> int:
    a, b, c = session.item_parameters(item_id)
    return int(rng.random() < probability([a], [b], [c], [true_theta])[0, 0])


def simulate_cat(pool: CatPool, true_theta: np.ndarray, rng: np.random.Generator, *,
                 exposure_control: ExposureMode = "learn", progress: Progress = silent) -> CatRun:
    """Run one CAT per true θ in order. ``exposure_control``: ``learn`` starts every item at
    eligibility 1 and updates the probabilities (with the online freeze) after every simulee;
    ``sealed`` uses the pool's probabilities as an engine would, unchanged; ``none`` keeps
    every item eligible. Exposure is counted in every mode."""
    if exposure_control not in EXPOSURE_MODES:
        raise ValidationError(f"exposure_control is one of {', '.join(EXPOSURE_MODES)}, not "
                              f"{exposure_control!r}", field="exposure_control")
    spec = pool.spec
    control = ExposureControl(pool.item_ids, spec.cat.segments, spec.cat.max_exposure)
    fixed = {"sealed": pool, "none": pool.with_eligibility(
        Eligibility.everyone(pool.item_ids, spec.cat.segments))}
    sessions, choices = [], []
    thetas = np.asarray(true_theta, dtype=float)
    for k, theta in enumerate(thetas):
        session_pool = fixed.get(exposure_control) or pool.with_eligibility(control.eligibility())
        session = CatSession(session_pool, f"{SIMULEE_PREFIX}{k:06d}")
        while not session.finished:
            segment = segment_of(session.theta, spec.cat.segments)
            started = time.perf_counter()
            item = session.next_item()
            seconds = time.perf_counter() - started
            entry = session.record(item, _answer(session, item, theta, rng))
            choice = session.choices[-1]
            choices.append({"candidate_id": session.candidate_id, **entry, "segment": segment,
                            "seconds": seconds, "status": choice.status,
                            "penalised": choice.penalised, "forced": choice.forced})
        control.record(session.exposure)
        sessions.append({"candidate_id": session.candidate_id, "true_theta": float(theta),
                         "theta": session.theta, "se": session.se, "length": len(session.log),
                         "score": session.score, "passed": session.passed,
                         "true_score": pool.percent(theta),
                         "true_passed": pool.percent(theta) >= spec.equivalence.pass_mark})
        progress((k + 1) / len(thetas))
    learned = (control.eligibility(freeze=False) if exposure_control == "learn"
               else fixed[exposure_control].eligibility)
    return CatRun(pd.DataFrame(sessions), pd.DataFrame(choices), _exposure_table(control),
                  learned, control.r_max, exposure_control, pool)


def _exposure_table(control: ExposureControl) -> pd.DataFrame:
    overall, conditional = control.exposure()
    frames = [pd.DataFrame({"item_id": control.item_ids, "segment": "all",
                            "candidates": control.candidates, "given": control.given,
                            "rate": overall})]
    for g, label in enumerate(segment_labels(control.cuts)):
        frames.append(pd.DataFrame({"item_id": control.item_ids, "segment": label,
                                    "candidates": control.visits[g],
                                    "given": control.segment_given[:, g],
                                    "rate": conditional[:, g]}))
    table = pd.concat(frames, ignore_index=True)
    table[["candidates", "given"]] = table[["candidates", "given"]].astype(int)
    return table
