"""The fitted calibration: tidy tables of items, groups and persons, plus how the run went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ITEM_COLUMNS = ["item_id", "model", "a", "b", "c", "thresholds", "se_a", "se_b", "se_c", "se_thresholds", "n", "fixed"]


@dataclass(frozen=True)
class CalibrationResult:
    """What a psychometrician reads after ``calibrate``: estimates with standard errors and status.

    ``items``: item_id, model, a, b, c, thresholds (list or None), se_a, se_b, se_c,
    se_thresholds, n (respondents), fixed. ``groups``: group, mean, sd, se_mean, se_sd, n,
    reference. ``persons``: person_id, group, theta (EAP), se (posterior sd).
    Status (``converged``, ``n_iter``, ``loglik``) is kept apart from the estimates: a run that
    stopped at ``max_iter`` still returns its estimates, flagged. ``max_change`` (last plain EM
    step) over ``1 − em_rate`` (EM's estimated contraction rate) is the estimated distance to the
    maximum that ``tol`` bounds.
    """

    items: pd.DataFrame
    groups: pd.DataFrame
    persons: pd.DataFrame
    converged: bool
    n_iter: int
    loglik: float
    max_change: float
    se_method: str
    em_rate: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    n_accelerations: int = 0

    def summary(self) -> str:
        """A short plain-text report of status, fit and parameter ranges."""
        status = "converged" if self.converged else "NOT converged"
        lines = [
            f"IRT calibration: {len(self.items)} items ({int(self.items['fixed'].sum())} fixed), "
            f"{len(self.persons)} persons, {len(self.groups)} group(s)",
            f"  {status} after {self.n_iter} EM iterations (last step {self.max_change:.2e}, "
            f"EM rate {self.em_rate:.3f}); "
            f"log-likelihood {self.loglik:.3f}",
            f"  models: {self.items['model'].value_counts().to_dict()}; standard errors: {self.se_method}",
            f"  a: {_range(self.items['a'])}   b: {_range(self.items['b'])}",
            "  time: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()),
            "  groups:",
        ]
        for row in self.groups.itertuples():
            lines.append(f"    {row.group}: mean {row.mean:+.3f} sd {row.sd:.3f} (n {row.n}){' reference' if row.reference else ''}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN becomes None)."""
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {
            "converged": self.converged,
            "n_iter": self.n_iter,
            "loglik": self.loglik,
            "max_change": self.max_change,
            "em_rate": self.em_rate,
            "se_method": self.se_method,
            "timings": dict(self.timings),
            "items": records(self.items),
            "groups": records(self.groups),
        }


def _range(values: pd.Series) -> str:
    return f"{values.min():.2f} .. {values.max():.2f}" if values.notna().any() else "-"


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
