"""The LOFT result: one paper per candidate, the reference it is held to, and the set's figures.

Status is not quality: ``feasible`` when every paper was built and verified (LOFT has no
optimum to prove), ``infeasible`` with a diagnosis, ``not_solved`` when papers ran out midway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assembly.equivalence import Reference
from assembly.errors import InfeasibleSpec
from assembly.result import Form, plain


@dataclass
class LoftResult:
    """What :func:`assembly.assemble_loft` returns; ``to_dict()`` is JSON-safe."""

    status: str
    forms: list[Form] = field(default_factory=list)
    reference: Reference | None = None
    tcc: pd.DataFrame = field(default_factory=pd.DataFrame)
    exposure: pd.DataFrame = field(default_factory=pd.DataFrame)
    max_exposure: float | None = None
    mean_overlap: float | None = None
    attainment: pd.DataFrame = field(default_factory=pd.DataFrame)
    paper_seconds: list[float] = field(default_factory=list)
    seed: int | None = None
    diagnosis: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "feasible" and bool(self.forms)

    def raise_for_status(self) -> LoftResult:
        """Raise :class:`InfeasibleSpec` with the diagnosis unless papers were produced."""
        if not self.ok:
            reasons = "; ".join(self.diagnosis) or self.message or self.status
            raise InfeasibleSpec(f"no LOFT papers could be assembled: {reasons}", self.conflicts)
        return self

    def to_dict(self) -> dict[str, Any]:
        worst = float(self.tcc["deviation"].abs().max()) if not self.tcc.empty else None
        return {
            "status": self.status,
            "forms": [{"name": f.name, "role": f.role, "item_ids": list(f.item_ids)} for f in self.forms],
            "reference": self.reference.to_dict() if self.reference is not None else None,
            "max_exposure": plain(self.max_exposure), "mean_overlap": plain(self.mean_overlap),
            "max_tcc_deviation": worst,
            "paper_seconds": {"mean": float(np.mean(self.paper_seconds)) if self.paper_seconds else None,
                              "max": max(self.paper_seconds, default=None)},
            "checks": len(self.attainment),
            "failed_checks": int((~self.attainment["ok"]).sum()) if not self.attainment.empty else 0,
            "seed": self.seed, "diagnosis": list(self.diagnosis), "conflicts": list(self.conflicts),
            "message": self.message,
        }

    def summary(self) -> str:
        """A few lines a bank manager can read."""
        lines = [f"status: {self.status}, {len(self.forms)} papers (一人一卷)"]
        if self.reference is not None:
            lines.append(f"pass-mark θ {self.reference.pass_theta:.3f} on the reference paper")
        if self.forms:
            worst = self.tcc["deviation"].abs().max()
            lines.append(f"max exposure {self.max_exposure:.3f}, mean overlap {self.mean_overlap:.3f}, "
                         f"largest TCC deviation {worst:.2f} points")
            lines.append(f"{len(self.attainment)} checks, {int((~self.attainment['ok']).sum())} failed")
        if self.message:
            lines.append(self.message)
        lines += [f"- {sentence}" for sentence in self.diagnosis]
        return "\n".join(lines)
