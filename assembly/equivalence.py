"""Score equivalence on the 100-point scale (百分制): the reference paper, its pass-mark θ and the
test characteristic curves (TCC) every LOFT paper and every CAT score is held to.

A paper's TCC is its expected score at θ, rescaled so the paper's full points are 100. The
reference paper fixes the meaning of the pass mark: the pass-mark θ is where its TCC reaches
``equivalence.pass_mark`` (60 by default). A LOFT paper is score-equivalent when its TCC at the
pass-mark θ plus each offset lies within ``equivalence.tolerance`` points of the reference's; a CAT
reports the reference TCC at θ̂ (true score on the reference paper), so pass/fail at 60 keeps its
meaning whatever items a candidate saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from assembly.bank import item_scores, normalise_items
from assembly.errors import InfeasibleSpec
from assembly.information import FloatArray, expected_score
from assembly.spec import PaperSpec

THETA_RANGE = (-6.0, 6.0)


def percent_curves(table: pd.DataFrame, spec: PaperSpec, theta: Sequence[float] | FloatArray
                   ) -> FloatArray:
    """Each item's expected points at θ (items x θ) on the 100-point scale of one paper of the
    spec. ``table`` must be normalised (:func:`assembly.bank.normalise_items`)."""
    scale = 100.0 / spec.total_points
    return scale * expected_score(table["a"], table["b"], table["c"], np.atleast_1d(theta),
                                  item_scores(table, spec))


@dataclass(frozen=True)
class Reference:
    """The reference paper: its items, the pass-mark θ, the θ points where papers are compared
    (pass-mark θ plus the spec's offsets) and its TCC there."""

    item_ids: list[str]
    pass_theta: float
    theta: FloatArray
    tcc: FloatArray
    table: pd.DataFrame

    def percent(self, theta: float | Sequence[float] | FloatArray, spec: PaperSpec) -> FloatArray:
        """The reference TCC (百分制) at θ: the reported score of a CAT at θ̂."""
        return percent_curves(self.table, spec, np.atleast_1d(theta)).sum(axis=0)

    def to_dict(self) -> dict[str, object]:
        return {"item_ids": list(self.item_ids), "pass_theta": float(self.pass_theta),
                "theta": self.theta.tolist(), "tcc": self.tcc.tolist()}


def pass_mark_theta(table: pd.DataFrame, spec: PaperSpec) -> float:
    """The θ where the paper (all rows of ``table``) has the expected 百分制 score of the pass mark."""
    pass_mark = spec.equivalence.pass_mark

    def excess(theta: float) -> float:
        return float(percent_curves(table, spec, [theta]).sum()) - pass_mark

    low, high = THETA_RANGE
    if not excess(low) < 0 < excess(high):
        reach = (excess(low) + pass_mark, excess(high) + pass_mark)
        raise InfeasibleSpec(
            f"the reference paper's expected score runs from {reach[0]:.1f} to {reach[1]:.1f} "
            f"points for θ in [{low:g}, {high:g}], so it never crosses the pass mark "
            f"{pass_mark:g}; uncalibrated items (no a, b) count zero", ["equivalence"])
    return float(brentq(excess, low, high, xtol=1e-8))


def reference_from(items: pd.DataFrame, spec: PaperSpec, item_ids: Sequence[str]) -> Reference:
    """The reference built on given papers' items (e.g. an operational paper of the bank)."""
    bank = normalise_items(items).set_index("item_id", drop=False)
    missing = [i for i in item_ids if i not in bank.index]
    if missing:
        raise InfeasibleSpec(f"reference item {missing[0]} is not in the item table", ["equivalence"])
    table = bank.loc[list(item_ids)].reset_index(drop=True)
    theta_c = pass_mark_theta(table, spec)
    theta = theta_c + np.asarray(spec.equivalence.offsets, dtype=float)
    tcc = percent_curves(table, spec, theta).sum(axis=0)
    return Reference(list(item_ids), theta_c, theta, tcc, table)


def paper_tcc(curves: FloatArray, selection: np.ndarray) -> FloatArray:
    """TCCs of papers given as a [paper, item] boolean selection over the rows of ``curves``."""
    return np.asarray(selection, dtype=float) @ curves


def reference_paper(items: pd.DataFrame, spec: PaperSpec, *, seed: int | None = None) -> Reference:
    """The spec's own single paper (its objective and every content rule) as the reference, for a
    bank that names none."""
    from assembly.engine import assemble

    single = spec.model_copy(update={"forms": spec.forms.model_copy(update={"main": 1, "backup": 0})})
    result = assemble(items, single, seed=seed).raise_for_status()
    return reference_from(items, spec, result.forms[0].item_ids)
