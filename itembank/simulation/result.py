"""The simulation report: what a psychometrician signs off before LOFT or CAT goes live.

One object for both modes, so the JSON, the figure and the HTML page read the same fields: ability
recovery, pass/fail classification, exposure, overlap, independent verification and timings.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy.typing as npt
import pandas as pd

from itembank.simulation.metrics import (
    Classification,
    ExposureSummary,
    Incidence,
    ThetaRecovery,
    classification,
    exposure_summary,
    item_uses,
    mean_overlap,
    theta_recovery,
)

SCORE_LABELS = {"reference_tcc": "reference TCC at θ̂", "own_paper": "raw score on own paper"}


def plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unboxed, NaN and infinities as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-safe rows."""
    return [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


@dataclass
class SimulationReport:
    """A LOFT or CAT simulation study on known truth.

    ``simulees`` has one row per simulated candidate (candidate, test, length, true_theta, theta,
    se, true_score, score, passed, true_passed and, for LOFT, raw_score); ``verification`` holds
    the independent verifier's rows (``ok`` per check); ``equivalence`` (LOFT) each paper's TCC
    against the reference's at the spec's θ points (candidate, theta, tcc, reference, deviation). Scores are on the 100-point scale (百分制).
    """

    mode: Literal["loft", "cat"]
    spec_name: str
    seed: int | None
    pass_mark: float
    pass_theta: float
    simulees: pd.DataFrame
    recovery: ThetaRecovery
    classification: dict[str, Classification]
    exposure: ExposureSummary
    mean_overlap: float
    limits: dict[str, float]
    verification: pd.DataFrame
    timings: dict[str, dict[str, float]]
    seconds: float
    engine: dict[str, Any] = field(default_factory=dict)
    equivalence: pd.DataFrame | None = None

    @classmethod
    def measure(cls, mode: Literal["loft", "cat"], *, spec_name: str, seed: int | None, pass_mark: float,
                pass_theta: float, simulees: pd.DataFrame, held: Incidence, item_ids: npt.ArrayLike,
                pool_ids: npt.ArrayLike, limits: dict[str, float], verification: pd.DataFrame,
                timings: dict[str, dict[str, float]], started: float, engine: dict[str, Any],
                equivalence: pd.DataFrame | None = None) -> SimulationReport:
        """The report of a study from what both modes gather: the simulees table, which items
        (columns, in ``item_ids`` order) each test held, the eligible pool and the verifier's rows.
        Pass/fail is classified on every reported score the table has (the reference TCC at θ̂,
        and the raw score on the candidate's own paper where there is one); exposure counts
        every eligible item, the ones no test held too; ``started`` is the study's
        ``time.perf_counter()`` at its start."""
        scores = {name: column for name, column in (("reference_tcc", "score"), ("own_paper", "raw_score"))
                  if column in simulees}
        uses = pd.Series(item_uses(held), index=pd.Index(item_ids)).reindex(pool_ids, fill_value=0)
        return cls(
            mode=mode, spec_name=spec_name, seed=seed, pass_mark=pass_mark, pass_theta=pass_theta,
            simulees=simulees, recovery=theta_recovery(simulees["true_theta"], simulees["theta"]),
            classification={name: classification(simulees["true_score"], simulees[column], pass_mark)
                            for name, column in scores.items()},
            exposure=exposure_summary(pool_ids, uses.to_numpy(), held.shape[0]),
            mean_overlap=mean_overlap(held), limits=limits, verification=verification, timings=timings,
            seconds=time.perf_counter() - started, engine=engine, equivalence=equivalence,
        )

    @property
    def candidates(self) -> int:
        return len(self.simulees)

    @property
    def conditional_exposure(self) -> float | None:
        """CAT: the largest exposure of an item among the candidates whose θ̂ visited one segment
        (segments at least 5 % of them visited), the rate the conditional Sympson–Hetter control
        holds at ``max_exposure`` to within about one candidate of the segment (an item is frozen
        once its rate reaches the limit); the overall rate mixes the segments a test passes through.
        None for LOFT, where the limit is on the overall rate."""
        value = self.engine.get("max_conditional_exposure")
        return None if value is None else float(value)

    @property
    def violations(self) -> int:
        """Failed checks of the independent verifier (must be 0)."""
        return int((~self.verification["ok"].astype(bool)).sum()) if len(self.verification) else 0

    def to_dict(self) -> dict[str, Any]:
        e = self.exposure
        failed = self.verification[~self.verification["ok"].astype(bool)] if len(self.verification) else self.verification
        return {
            "mode": self.mode,
            "spec": self.spec_name,
            "seed": self.seed,
            "candidates": self.candidates,
            "pass_mark": self.pass_mark,
            "pass_theta": self.pass_theta,
            "theta": {"rmse": self.recovery.rmse, "bias": self.recovery.bias,
                      "by_decile": records(self.recovery.by_decile)},
            "classification": {name: c.to_dict() for name, c in self.classification.items()},
            "exposure": {"tests": e.tests, "pool": e.pool, "max": e.max_rate,
                         "max_conditional": self.conditional_exposure, "mean": e.mean_rate,
                         "quantiles": e.quantiles, "unused_share": e.unused_share,
                         "histogram": records(e.histogram)},
            "overlap": {"mean": self.mean_overlap},
            "limits": dict(self.limits),
            "length": {"mean": float(self.simulees["length"].mean()), "min": int(self.simulees["length"].min()),
                       "max": int(self.simulees["length"].max())},
            "violations": {"count": self.violations, "checks": len(self.verification),
                           "failed": records(failed.head(20))},
            "timings": {name: {k: plain(v) for k, v in t.items()} for name, t in self.timings.items()},
            "seconds": self.seconds,
            "engine": {k: plain(v) for k, v in self.engine.items()},
            "equivalence": None if self.equivalence is None else self.equivalence_by_theta(),
        }

    def equivalence_by_theta(self) -> list[dict[str, Any]]:
        """Per θ point of the equivalence rule: the reference TCC and the largest |deviation| of any paper."""
        assert self.equivalence is not None
        table = self.equivalence.assign(abs_deviation=self.equivalence["deviation"].abs())
        worst = table.groupby("theta", as_index=False).agg(reference=("reference", "first"),
                                                           max_abs_deviation=("abs_deviation", "max"))
        return records(worst)

    def summary(self) -> str:
        """A few lines for the exam office's psychometrician."""
        tests = "papers" if self.mode == "loft" else "adaptive tests"
        lines = [
            f"{self.mode.upper()} simulation of {self.spec_name}: {self.candidates:,} candidates, seed {self.seed}, "
            f"{self.seconds:.1f} s",
            f"θ recovery: RMSE {self.recovery.rmse:.3f}, bias {self.recovery.bias:+.3f} "
            f"(worst decile RMSE {self.recovery.by_decile['rmse'].max():.3f})",
        ]
        for name, c in self.classification.items():
            lines.append(f"pass/fail at {c.pass_mark:g} by {SCORE_LABELS[name]}: accuracy {100 * c.accuracy:.1f} % "
                         f"(false pass {100 * c.false_pass:.1f} %, false fail {100 * c.false_fail:.1f} %)")
        e = self.exposure
        cap = f"(limit {self.limits['max_exposure']:g})"
        held = (cap if self.conditional_exposure is None
                else f"overall, {self.conditional_exposure:.3f} within a θ̂ segment {cap}")
        lines.append(f"exposure over {e.pool:,} eligible items: max {e.max_rate:.3f} {held}, "
                     f"p90 {e.quantiles['p90']:.3f}, unused {100 * e.unused_share:.1f} % of the pool")
        limit = self.limits.get("max_mean_overlap")
        lines.append(f"mean pairwise overlap {self.mean_overlap:.3f}" + (f" (limit {limit:g})" if limit is not None else ""))
        if self.equivalence is not None:
            worst = float(self.equivalence["deviation"].abs().max())
            lines.append(f"score equivalence: largest paper TCC deviation from the reference {worst:.2f} points "
                         f"(tolerance {self.limits['tcc_tolerance']:g})")
        verdict = "none" if self.violations == 0 else f"{self.violations} FAILED"
        lines.append(f"constraint violations (independent verifier, {len(self.verification):,} checks over "
                     f"{self.candidates:,} {tests}): {verdict}")
        for name, t in self.timings.items():
            if t.get("n"):
                lines.append(f"time {name.replace('_', ' ')}: p50 {1000 * t['p50']:.1f} ms, p95 {1000 * t['p95']:.1f} ms")
        return "\n".join(lines)
