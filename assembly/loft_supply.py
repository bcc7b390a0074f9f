"""Whether N LOFT papers can exist at all under the exposure cap, asked before any paper is built.

Summed over N papers every row of the single-paper model holds N times (``N·lo ≤ A·y ≤ N·hi``),
where ``y`` counts each item's uses, between 0 and the cap. Any N valid papers give such a ``y``,
so when this linear programme has no solution no N papers exist, however they are chosen; the
rule groups that cannot be met together are then named (a deletion filter over the summed
groups, one small LP each), with the least cap at which the summed rows can hold. The count
pre-check (:func:`assembly.diagnose.precheck`) sees each rule alone; this sees them together, e.g.
a steep reference TCC that only the most discriminating items can match, N times over.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import pulp

from assembly.diagnose import minimal_conflict
from assembly.model import AssemblyModel


@dataclass(frozen=True)
class Shortfall:
    """Rule groups whose sum over the papers the cap cannot meet, and the least cap that can."""

    groups: list[str]
    least_cap: int | None


class SummedRows:
    """The single-paper model's rows summed over ``papers`` papers, items capped at ``cap`` uses."""

    def __init__(self, model: AssemblyModel, papers: int) -> None:
        bridge = pulp.HiGHS(mip=False, msg=False)
        bridge.createAndConfigureSolver(model.problem)
        bridge.buildSolverModel(model.problem)
        self._lp: highspy.HighsLp = model.problem.solverModel.getLp()
        self._papers = papers
        self._columns = np.array([v.index for v in model.x[0]], dtype=np.int32)
        position = {id(c): row for row, c in enumerate(model.problem.constraints.values())}
        self._rows = {group: [position[id(c)] for c in constraints]
                      for group, constraints in model.groups.items()}
        grouped = {r for rows in self._rows.values() for r in rows}
        self._structural = [r for r in range(self._lp.num_row_) if r not in grouped]

    def feasible(self, cap: int, groups: list[str] | None = None) -> bool:
        """Whether the summed rows (only those of ``groups`` if given) hold with every item in
        at most ``cap`` papers."""
        lp = self._lp
        lower = np.asarray(lp.col_lower_, dtype=float) * self._papers
        upper = np.asarray(lp.col_upper_, dtype=float) * self._papers
        upper[self._columns] = float(min(cap, self._papers))
        row_lower = np.full(lp.num_row_, -highspy.kHighsInf)
        row_upper = np.full(lp.num_row_, highspy.kHighsInf)
        kept = self._structural + [r for g in (self._rows if groups is None else groups)
                                   for r in self._rows[g]]
        row_lower[kept] = _times(np.asarray(lp.row_lower_, dtype=float)[kept], self._papers)
        row_upper[kept] = _times(np.asarray(lp.row_upper_, dtype=float)[kept], self._papers)
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("threads", 1)
        summed = highspy.HighsLp()
        summed.num_col_, summed.num_row_, summed.a_matrix_ = lp.num_col_, lp.num_row_, lp.a_matrix_
        summed.col_cost_ = np.zeros(lp.num_col_)
        summed.col_lower_, summed.col_upper_ = lower, upper
        summed.row_lower_, summed.row_upper_ = row_lower, row_upper
        highs.passModel(summed)
        highs.run()
        return bool(highs.getModelStatus() == highspy.HighsModelStatus.kOptimal)

    def shortfall(self, cap: int) -> Shortfall | None:
        """None when the summed rows hold at ``cap``; else a minimal set of groups that do not
        (whole families first, then single groups) and the least cap that would do."""
        if self.feasible(cap):
            return None
        kept = minimal_conflict(list(self._rows), lambda groups: not self.feasible(cap, groups))
        return Shortfall(kept, self._least_cap(cap))

    def _least_cap(self, cap: int) -> int | None:
        """Bisection over caps above ``cap``; None when even one paper per item use fails."""
        low, high = cap, self._papers
        if not self.feasible(high):
            return None
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self.feasible(middle) else (middle, high)
        return high


def _times(bounds: np.ndarray, papers: int) -> np.ndarray:
    """Row bounds for ``papers`` papers; infinite bounds stay infinite."""
    return np.where(np.isinf(bounds), bounds, bounds * papers)
