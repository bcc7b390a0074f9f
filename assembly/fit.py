"""What one paper can hold: its content rows as a matrix, and the item sets that can never fit.

An item set enters a paper whole, so a set with more items or points than one paper allows in
some section, blueprint cell, element (``max_per_element``) or difficulty band can stand in no
paper at all; so can a single item worth more points than its blueprint cell allows (a 10-point
case item under a module of 5 ± 3 points). Left in the pool it costs the model columns and, worse, loosens the decomposition's
shadow paper, whose caps are N papers' caps summed: the shadow happily uses a five-item set under a
three-per-element cap, bounds papers that cannot exist and deals out items no paper can take.
:func:`fitting_pool` drops such sets before any model is built and counts them among the pool's
removals, so the supply pre-check names them ("in an item set too big for one paper", "too big
for one paper").

:func:`paper_caps` is the one place these per-paper rows are read (from a one-paper assembly
model, so they are exactly the rows the MIP holds); the exchange and the decomposition's sharing
check swaps and pins against the same rows in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pulp

from assembly.bank import Pool, unit_keys
from assembly.build import build_model
from assembly.model import family
from assembly.spec import PaperSpec

PAPER_FAMILIES = ("section", "blueprint", "importance", "per_element", "difficulty", "enemy")
"""Families that hold paper by paper and are sums over items (item sets are kept whole by moving
them as units instead)."""
SLACK = 1e-9
SET_TOO_BIG = "in an item set too big for one paper"
ITEM_TOO_BIG = "too big for one paper"


@dataclass
class ContentRows:
    """Per-paper content rules as a dense matrix: lower ≤ Σ rows[i]·x_i ≤ upper for each rule
    (``rows`` is items × rules)."""

    rows: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def holds(self, totals: np.ndarray) -> np.ndarray:
        """Which papers' (or candidates') row totals meet every rule."""
        return np.all((totals >= self.lower - SLACK) & (totals <= self.upper + SLACK), axis=-1)

    def within_caps(self, totals: np.ndarray) -> np.ndarray:
        """Which totals stay under every upper bound (a partial paper that may still grow)."""
        return np.all(totals <= self.upper + SLACK, axis=-1)

    def summed(self, unit_of: np.ndarray, units: int) -> ContentRows:
        """The same rules over units (``unit_of[item]``, −1 for none): each unit's row is the sum
        of its members' rows."""
        rows = np.zeros((units, self.rows.shape[1]))
        members = unit_of >= 0
        np.add.at(rows, unit_of[members], self.rows[members])
        return ContentRows(rows, self.lower, self.upper)


def paper_caps(pool: Pool, spec: PaperSpec) -> ContentRows:
    """The content rows of one paper, read from the assembly model itself (one source of truth);
    an enemy group is a row with upper bound 1, so an item in two groups counts in both."""
    one = spec.model_copy(update={"forms": spec.forms.model_copy(update={"main": 1, "backup": 0}),
                                  "include": []})
    model = build_model(pool, one)
    column = {v.name: i for i, v in enumerate(model.x[0])}
    constraints: list[pulp.LpConstraint] = [
        c for group, rows in model.groups.items() if family(group) in PAPER_FAMILIES for c in rows]
    matrix = np.zeros((len(constraints), len(pool.table)))
    lower = np.full(len(constraints), -np.inf)
    upper = np.full(len(constraints), np.inf)
    for r, constraint in enumerate(constraints):
        for var, coefficient in constraint.items():
            matrix[r, column[var.name]] = coefficient
        if constraint.sense in (pulp.LpConstraintGE, pulp.LpConstraintEQ):
            lower[r] = -constraint.constant
        if constraint.sense in (pulp.LpConstraintLE, pulp.LpConstraintEQ):
            upper[r] = -constraint.constant
    return ContentRows(matrix.T, lower, upper)


def fits_one_paper(pool: Pool, spec: PaperSpec) -> np.ndarray:
    """Per item: False when its unit (its item set, or the item alone) exceeds one paper's cap
    on some row: a section's count or points, a blueprint cell (a 10-point case item under a
    module allowed 8 points), ``max_per_element``, a difficulty band."""
    caps = paper_caps(pool, spec)
    codes, names = unit_keys(pool.table).factorize()
    too_big = ~caps.within_caps(caps.summed(codes, len(names)).rows)
    return ~too_big[codes]


def fitting_pool(pool: Pool, spec: PaperSpec) -> Pool:
    """The pool without the units no paper can hold, their items counted as removed: those in
    item sets as "in an item set too big for one paper", the others as "too big for one paper"."""
    fits = fits_one_paper(pool, spec)
    if fits.all():
        return pool
    in_set = pool.table["set_id"].notna().to_numpy()
    smaller = pool.subset(fits)
    reasons = {SET_TOO_BIG: int((~fits & in_set).sum()), ITEM_TOO_BIG: int((~fits & ~in_set).sum())}
    smaller.removed = {**pool.removed, **{r: n for r, n in reasons.items() if n}}
    return smaller
