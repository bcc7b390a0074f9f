"""What one paper can hold: its content rows as a matrix, and the item sets that can never fit.

An item set enters a paper whole, so a set with more items or points than one paper allows in
some section, blueprint cell, element (``max_per_element``) or difficulty band can stand in no
paper at all. Left in the pool it costs the model columns and, worse, loosens the decomposition's
shadow paper, whose caps are N papers' caps summed: the shadow happily uses a five-item set under a
three-per-element cap, bounds papers that cannot exist and deals out items no paper can take.
:func:`fitting_pool` drops such sets before any model is built and counts them among the pool's
removals, so the supply pre-check names them ("in an item set too big for one paper").

:func:`paper_caps` is the one place these per-paper rows are read (from a one-paper assembly
model, so they are exactly the rows the MIP holds); the exchange and the decomposition's sharing
check swaps and pins against the same rows in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pulp

from assembly.bank import Pool
from assembly.build import build_model
from assembly.model import family
from assembly.spec import PaperSpec

PAPER_FAMILIES = ("section", "blueprint", "importance", "per_element", "difficulty", "enemy")
"""Families that hold paper by paper and are sums over items (item sets are kept whole by moving
them as units instead)."""
SLACK = 1e-9
TOO_BIG = "in an item set too big for one paper"


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
    """Per item: False for the members of an item set whose items together exceed one paper's
    cap on some row (section count or points, blueprint cell, element, difficulty band)."""
    sets = pool.table["set_id"]
    fits = np.ones(len(sets), dtype=bool)
    if not sets.notna().any():
        return fits
    caps = paper_caps(pool, spec)
    codes, names = sets.factorize()
    totals = caps.summed(codes, len(names)).rows
    too_big = ~caps.within_caps(totals)
    fits[codes >= 0] = ~too_big[codes[codes >= 0]]
    return fits


def fitting_pool(pool: Pool, spec: PaperSpec) -> Pool:
    """The pool without the item sets no paper can hold, their items counted as removed."""
    fits = fits_one_paper(pool, spec)
    if fits.all():
        return pool
    smaller = pool.subset(fits)
    smaller.removed = {**pool.removed, TOO_BIG: int((~fits).sum())}
    return smaller
