"""The simultaneous assembly model: one binary x[paper][item] per paper and eligible item, all
papers in one MIP (greedy one-at-a-time assembly starves the later papers).

Constraints are filed under group names built from the data (``blueprint[main-2][B-02]``); the
verifier and the infeasibility diagnosis report by the same names. Groups are requirements a
spec can fail; ``structural`` rows only define helper variables and can always be met.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pulp

from assembly.bank import Pool
from assembly.spec import PaperSpec


@dataclass
class AssemblyModel:
    """A PuLP problem plus the bookkeeping needed to read, verify and diagnose it."""

    problem: pulp.LpProblem
    pool: Pool
    spec: PaperSpec
    form_names: list[str]
    x: list[list[pulp.LpVariable]]
    groups: dict[str, list[pulp.LpConstraint]] = field(default_factory=dict)
    structural: list[pulp.LpConstraint] = field(default_factory=list)

    @property
    def main_forms(self) -> list[int]:
        return [f for f, name in enumerate(self.form_names) if name.startswith("main")]

    @property
    def backup_forms(self) -> list[int]:
        return [f for f, name in enumerate(self.form_names) if name.startswith("backup")]

    def require(self, group: str, constraint: pulp.LpConstraint) -> None:
        """File a requirement under its group name (a spec can fail these)."""
        self.groups.setdefault(group, []).append(constraint)
        self.problem += constraint

    def define(self, constraint: pulp.LpConstraint) -> None:
        """Add a row that only defines helper variables (always satisfiable)."""
        self.structural.append(constraint)
        self.problem += constraint

    def total(self, form: int, coefficients: np.ndarray, mask: np.ndarray | None = None) -> pulp.LpAffineExpression:
        """Σ coefficient·x over the items of one paper (optionally only the masked items)."""
        rows = np.flatnonzero(mask) if mask is not None else np.flatnonzero(coefficients)
        xs = self.x[form]
        return pulp.LpAffineExpression([(xs[i], float(coefficients[i])) for i in rows])

    def count(self, form: int, mask: np.ndarray) -> pulp.LpAffineExpression:
        """Number of items from the mask in one paper."""
        xs = self.x[form]
        return pulp.LpAffineExpression([(xs[i], 1.0) for i in np.flatnonzero(mask)])

    def uses(self, forms: Iterable[int], item: int) -> pulp.LpAffineExpression:
        """How many of the given papers use one item."""
        return pulp.LpAffineExpression([(self.x[f][item], 1.0) for f in forms])

    def feasibility_problem(self, groups: Sequence[str]) -> pulp.LpProblem:
        """The structural rows plus the named groups, with no objective: for the deletion filter."""
        problem = pulp.LpProblem("feasibility", pulp.LpMinimize)
        problem += pulp.LpAffineExpression()
        for constraint in self.structural:
            problem += constraint
        for group in groups:
            for constraint in self.groups[group]:
                problem += constraint
        with warnings.catch_warnings():  # PuLP 4 attaches variables at creation; this copies them
            warnings.simplefilter("ignore", DeprecationWarning)
            problem.addVariables([var for xs in self.x for var in xs])
        return problem


def overlap_group(papers: Sequence[str]) -> str:
    """The name of an overlap requirement among the listed papers, e.g. ``overlap[main-1,main-2]``.
    The verifier names each pair of papers the same way, so a diagnosis and a failed check read
    alike; a row that covers several papers at once (an item used by at most one of them) lists
    them all."""
    return f"overlap[{','.join(papers)}]"


def family(group: str) -> str:
    """The constraint family of a group name: ``blueprint[main-2][B-02]`` → ``blueprint``."""
    return group.split("[", 1)[0]
