"""The assembly result: papers, per-constraint attainment, objective, bound, gap and status.

Status is not quality: ``optimal`` only when the papers are proven optimal (objective and bound
agree to 1e-9), ``feasible`` for papers that stopped at the spec's gap tolerance or the time limit
(``message`` says which, e.g. "stopped at gap 0.31 % (tolerance 0.50 %)"), ``infeasible`` with a
diagnosis, ``not_solved`` when no paper came back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from assembly.errors import InfeasibleSpec

STATUSES = ("optimal", "feasible", "infeasible", "not_solved")


@dataclass(frozen=True)
class Form:
    """One assembled paper: its name (``main-1``, ``backup-1``), role and ordered item ids."""

    name: str
    role: str
    item_ids: list[str]


def plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return plain(value.item())
    return value


@dataclass
class AssemblyResult:
    """What :func:`assembly.assemble` returns; ``to_dict()`` is JSON-safe. ``trajectory`` lists
    each improving paper set as (seconds since assembly began, objective)."""

    status: str
    forms: list[Form] = field(default_factory=list)
    attainment: pd.DataFrame = field(default_factory=pd.DataFrame)
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    solver: str = ""
    solve_time: float = 0.0
    build_time: float = 0.0
    seed: int | None = None
    diagnosis: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    trajectory: list[tuple[float, float]] = field(default_factory=list)
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")

    def form(self, name: str) -> Form:
        """The paper with the given name, e.g. ``main-2``."""
        return next(f for f in self.forms if f.name == name)

    def raise_for_status(self) -> AssemblyResult:
        """Raise :class:`InfeasibleSpec` with the diagnosis unless papers were produced."""
        if not self.ok:
            reasons = "; ".join(self.diagnosis) or self.message or self.status
            raise InfeasibleSpec(f"no papers could be assembled: {reasons}", self.conflicts)
        return self

    def to_dict(self) -> dict[str, Any]:
        rows = [{k: plain(v) for k, v in row.items()}
                for row in self.attainment.to_dict(orient="records")]
        return {
            "status": self.status,
            "forms": [{"name": f.name, "role": f.role, "item_ids": list(f.item_ids)} for f in self.forms],
            "attainment": rows,
            "objective": plain(self.objective),
            "best_bound": plain(self.best_bound),
            "gap": plain(self.gap),
            "solver": self.solver,
            "solve_time": self.solve_time,
            "build_time": self.build_time,
            "seed": self.seed,
            "diagnosis": list(self.diagnosis),
            "conflicts": list(self.conflicts),
            "message": self.message,
        }

    def summary(self) -> str:
        """A few lines a bank manager can read."""
        lines = [f"status: {self.status} ({self.solver}, {self.solve_time:.1f} s)"]
        if self.message:
            lines.append(self.message)
        if self.objective is not None:
            gap = f"{100 * self.gap:.2f} %" if self.gap is not None else "unknown"
            lines.append(f"objective {self.objective:.4g}, bound {self.best_bound:.4g}, gap {gap}")
        lines += [f"{f.name}: {len(f.item_ids)} items" for f in self.forms]
        if not self.attainment.empty:
            failed = self.attainment[~self.attainment["ok"]]
            lines.append(f"{len(self.attainment)} checks, {len(failed)} failed")
        lines += [f"- {sentence}" for sentence in self.diagnosis]
        return "\n".join(lines)
