"""Simulated response data with known truth, shared by tests, benchmarks and the demo.

Everything random takes an explicit ``numpy.random.Generator`` so a seed reproduces a data set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from calibration.irt import prob_3pl, prob_gpcm, prob_grm


def simulate_dichotomous(
    theta: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dense 0/1 response matrix (persons × items) drawn from the 3PL with the given truth."""
    p = prob_3pl(theta, a, b, c)
    return (rng.random(p.shape) < p).astype(np.int8)


def to_long(
    matrix: np.ndarray,
    person_ids: list[str] | np.ndarray,
    item_ids: list[str] | np.ndarray,
    seen: np.ndarray | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Long-format response log (person_id, item_id, score) from a matrix; ``seen`` masks unseen cells.

    ``extra`` maps column names to per-person arrays (e.g. ``group`` or ``paper_id``).
    """
    mask = np.ones(matrix.shape, dtype=bool) if seen is None else np.asarray(seen, dtype=bool)
    rows, cols = np.nonzero(mask)
    frame = pd.DataFrame(
        {
            "person_id": np.asarray(person_ids)[rows],
            "item_id": np.asarray(item_ids)[cols],
            "score": matrix[rows, cols],
        }
    )
    for name, per_person in (extra or {}).items():
        frame[name] = np.asarray(per_person)[rows]
    return frame


def simulate_polytomous(
    theta: np.ndarray, a: np.ndarray, thresholds: np.ndarray, model: str, rng: np.random.Generator
) -> np.ndarray:
    """Dense score matrix (persons × items) from the GRM or GPCM with NaN-padded thresholds."""
    probs = (prob_grm if model == "GRM" else prob_gpcm)(theta, a, thresholds)
    cumulative = np.cumsum(probs, axis=2)
    draws = rng.random(probs.shape[:2] + (1,))
    return np.minimum((draws > cumulative).sum(axis=2), probs.shape[2] - 1).astype(np.int8)


@dataclass(frozen=True)
class PaperDesign:
    """A simulated bank log where each candidate sat one paper, with the truth that generated it."""

    responses: pd.DataFrame
    items: pd.DataFrame
    group_means: pd.Series
    theta: np.ndarray

    def on_reference_scale(self) -> tuple[pd.DataFrame, pd.Series]:
        """Truth re-expressed on the scale ``calibrate`` reports, where the first group's ability is N(0, 1).

        The scale is set by the reference group's *sample*, so the truth is standardised on the
        realised abilities of that group's candidates, not its population mean and sd.
        """
        group = self.responses.drop_duplicates("person_id").set_index("person_id")["group"]
        first = group.to_numpy() == self.group_means.index[0]
        centre, spread = float(self.theta[first].mean()), float(self.theta[first].std())
        items = self.items.assign(a=self.items["a"] * spread, b=(self.items["b"] - centre) / spread)
        realised = pd.Series(self.theta).groupby(group.to_numpy()).mean().reindex(self.group_means.index)
        return items, (realised - centre) / spread


def simulate_paper_design(
    n_persons: int,
    rng: np.random.Generator,
    *,
    n_papers: int = 8,
    items_per_paper: int = 60,
    n_anchors: int = 20,
    linking: Literal["common", "ring"] = "common",
    group_means: np.ndarray | None = None,
    guessing: bool = False,
) -> PaperDesign:
    """Each candidate sits one of ``n_papers`` papers; papers share ``n_anchors`` items each.

    ``linking="common"``: the same anchors are on every paper (20 + 8 × 40 = 340 items, 82 %
    missing with the defaults). ``"ring"``: each paper shares half its anchors with the paper
    before and half with the one after (8 × 50 = 400 items, 85 % missing) — a much weaker link,
    where the scale drifts along the chain. One group per paper, means from −0.6 to +0.6, sd 1.
    Truth: log a ~ N(0, 0.3²), b ~ N(0, 1), c ~ U(0.1, 0.25) when ``guessing``.
    """
    own = items_per_paper - (n_anchors if linking == "common" else n_anchors // 2)
    n_items = own * n_papers + (n_anchors if linking == "common" else 0)
    means = np.linspace(-0.6, 0.6, n_papers) if group_means is None else np.asarray(group_means, dtype=float)
    paper = rng.integers(0, n_papers, n_persons)
    theta = rng.normal(means[paper], 1.0)
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(0.0, 1.0, n_items)
    c = rng.uniform(0.1, 0.25, n_items) if guessing else np.zeros(n_items)
    seen = np.zeros((n_papers, n_items), dtype=bool)
    for p in range(n_papers):
        if linking == "common":
            seen[p, :n_anchors] = True
            seen[p, n_anchors + p * own : n_anchors + (p + 1) * own] = True
        else:
            seen[p, p * own : (p + 1) * own] = True
            seen[p, (np.arange(n_anchors // 2) + p * own - n_anchors // 2) % n_items] = True
    matrix = simulate_dichotomous(theta, a, b, c, rng)
    item_ids = np.array([f"I{j:04d}" for j in range(n_items)])
    person_ids = np.array([f"P{i:06d}" for i in range(n_persons)])
    labels = np.array([f"paper{p + 1}" for p in range(n_papers)])
    responses = to_long(matrix, person_ids, item_ids, seen=seen[paper],
                        extra={"paper_id": labels[paper], "group": labels[paper]})
    items = pd.DataFrame({"item_id": item_ids, "a": a, "b": b, "c": c, "anchor": seen.sum(axis=0) > 1})
    return PaperDesign(responses=responses, items=items, group_means=pd.Series(means, index=labels), theta=theta)
