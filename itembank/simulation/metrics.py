"""The figures a simulation study reports, computed from arrays in numpy: ability recovery, pass/fail
classification, item exposure, test overlap and timing percentiles.

Every function is pure and vectorised over candidates and items, so a study of 10,000 candidates
costs milliseconds here; the study modules only gather the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

FloatArray = npt.NDArray[np.float64]
DECILES = 10
EXPOSURE_BINS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 1.0)  # upper ends; 0 is its own bin


@dataclass(frozen=True)
class ThetaRecovery:
    """θ̂ against the true θ: overall RMSE and bias, and both within each decile of true θ (the
    conditional error a pass/fail decision near the cut depends on)."""

    rmse: float
    bias: float
    by_decile: pd.DataFrame


def theta_recovery(true_theta: npt.ArrayLike, estimate: npt.ArrayLike, groups: int = DECILES) -> ThetaRecovery:
    """RMSE and bias (θ̂ − θ) overall and by equal-count groups of true θ (deciles by default).

    Groups are cut on the rank of true θ, so each holds n/groups candidates (±1) even with ties.
    """
    truth, theta = np.asarray(true_theta, dtype=float), np.asarray(estimate, dtype=float)
    error = theta - truth
    groups = min(groups, len(truth))
    rank = np.argsort(np.argsort(truth, kind="stable"), kind="stable")
    decile = rank * groups // len(truth)
    n = np.bincount(decile, minlength=groups)
    table = pd.DataFrame({
        "decile": np.arange(1, groups + 1),
        "theta_low": pd.Series(truth).groupby(decile).min().to_numpy(),
        "theta_high": pd.Series(truth).groupby(decile).max().to_numpy(),
        "n": n,
        "mean_theta": np.bincount(decile, truth, groups) / n,
        "rmse": np.sqrt(np.bincount(decile, error**2, groups) / n),
        "bias": np.bincount(decile, error, groups) / n,
    })
    return ThetaRecovery(rmse=float(np.sqrt(np.mean(error**2))), bias=float(np.mean(error)), by_decile=table)


@dataclass(frozen=True)
class Classification:
    """Pass/fail at the pass mark, observed against true status. The three rates are shares of all
    candidates, so ``accuracy + false_pass + false_fail == 1``."""

    pass_mark: float
    accuracy: float
    false_pass: float
    false_fail: float
    true_pass_rate: float
    observed_pass_rate: float

    def to_dict(self) -> dict[str, float]:
        return dict(vars(self))


def classification(true_score: npt.ArrayLike, observed_score: npt.ArrayLike, pass_mark: float) -> Classification:
    """Agreement of pass (score ≥ pass mark) on the observed score with pass on the true score."""
    truly = np.asarray(true_score, dtype=float) >= pass_mark
    seen = np.asarray(observed_score, dtype=float) >= pass_mark
    return Classification(
        pass_mark=float(pass_mark),
        accuracy=float(np.mean(truly == seen)),
        false_pass=float(np.mean(seen & ~truly)),
        false_fail=float(np.mean(truly & ~seen)),
        true_pass_rate=float(np.mean(truly)),
        observed_pass_rate=float(np.mean(seen)),
    )


Incidence: TypeAlias = "npt.NDArray[np.bool_] | sparse.sparray | sparse.spmatrix"


def item_uses(incidence: Incidence) -> npt.NDArray[np.int64]:
    """How many tests (rows) hold each item (column) of a 0/1 incidence matrix."""
    return np.asarray(incidence.sum(axis=0), dtype=np.int64).ravel()


@dataclass(frozen=True)
class ExposureSummary:
    """Item exposure over the eligible pool: the share of tests holding each item."""

    tests: int
    pool: int
    max_rate: float
    mean_rate: float
    quantiles: dict[str, float]
    unused_share: float
    histogram: pd.DataFrame
    items: pd.DataFrame


def exposure_summary(item_ids: npt.ArrayLike, uses: npt.ArrayLike, tests: int) -> ExposureSummary:
    """Exposure rates (uses / tests) of every eligible item, ``uses`` aligned with ``item_ids``; items
    never used count, which is what the unused share of the pool is about."""
    counts = np.asarray(uses, dtype=np.int64)
    rate = counts / tests
    uppers = np.asarray(EXPOSURE_BINS)
    labels = ["0"] + [f"({low:g}, {high:g}]" for low, high in zip(uppers[:-1], uppers[1:], strict=True)]
    counts_per_bin = np.bincount(np.searchsorted(uppers, rate, side="left"), minlength=len(uppers))
    histogram = pd.DataFrame({"rate": labels, "items": counts_per_bin})
    levels = (0.5, 0.9, 0.99)
    return ExposureSummary(
        tests=int(tests), pool=len(counts), max_rate=float(rate.max(initial=0.0)), mean_rate=float(rate.mean()),
        quantiles={f"p{round(100 * q)}": float(v) for q, v in zip(levels, np.quantile(rate, levels), strict=True)},
        unused_share=float(np.mean(counts == 0)), histogram=histogram,
        items=pd.DataFrame({"item_id": np.asarray(item_ids), "uses": counts, "rate": rate}),
    )


def mean_overlap(incidence: Incidence) -> float:
    """Mean share of items two tests have in common (the test overlap rate).

    The items shared over all pairs add up to Σ uses·(uses−1)/2 over items, so no pair is visited:
    the mean is that sum over (pairs × mean test length). For tests of equal length this is exactly
    the mean pairwise |A∩B|/L; for CAT tests of varying length it is the usual overlap rate.
    """
    tests = incidence.shape[0]
    if tests < 2:
        return 0.0
    uses = item_uses(incidence).astype(float)
    lengths = np.asarray(incidence.sum(axis=1), dtype=np.float64).ravel()
    pairs = tests * (tests - 1) / 2
    return float((uses * (uses - 1) / 2).sum() / (pairs * lengths.mean()))


def timing_summary(seconds: npt.ArrayLike) -> dict[str, float]:
    """Count, mean, median, 95th percentile and maximum of a list of timings (seconds)."""
    values = np.asarray(seconds, dtype=float)
    if values.size == 0:
        return {"n": 0}
    p50, p95 = np.quantile(values, (0.5, 0.95))
    return {"n": int(values.size), "mean": float(values.mean()), "p50": float(p50), "p95": float(p95),
            "max": float(values.max())}
