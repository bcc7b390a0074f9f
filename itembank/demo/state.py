"""What the demo carries from step to step: its options, the bank, the actors, and the figures for the report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from itembank.models import Role
from itembank.sample_bank import DATA_DIR
from itembank.services.actors import Actor
from itembank.services.sample import ReviewCrew

SPEC_PATH = DATA_DIR / "specs" / "hr-manager-l3-theory.yaml"
ADMIN = Actor("admin", Role.ADMIN)


def short_paper_name(name: str) -> str:
    """A paper's name without the spec prefix: ``…-r1-main-2`` → ``r1-main-2``, ``…-replacement-r2-backup-1`` → ``replacement-r2-backup-1``."""
    match = re.search(r"(replacement-)?r\d+-(main|backup)-\d+$", name)
    return match.group(0) if match else name


@dataclass(frozen=True)
class DemoOptions:
    """Sizes of the run; the defaults are the full demo, tests pass smaller ones."""

    out: Path
    n_items: int = 3000
    n_candidates: int = 4000
    pilot_responses_per_item: int = 300
    seed: int = 7
    level: int = 3
    spec_path: Path = SPEC_PATH

    @property
    def database(self) -> Path:
        return self.out / "demo.db"

    @property
    def report(self) -> Path:
        return self.out / "demo-report.html"


@dataclass(frozen=True)
class StepTiming:
    number: int
    title: str
    seconds: float
    line: str


@dataclass
class DemoRun:
    """The state one demo run builds up; every number in the report comes from here."""

    options: DemoOptions
    engine: Engine
    engine_name: str = "demo-engine"
    admin: Actor = ADMIN
    crew: ReviewCrew | None = None
    engine_token: str = ""
    item_ids: list[str] = field(default_factory=list)
    truth: pd.DataFrame = field(default_factory=pd.DataFrame)
    pilot_recovery: pd.DataFrame = field(default_factory=pd.DataFrame)
    papers: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    opened: dict[int, dict[str, Any]] = field(default_factory=dict)
    sitting_theta: dict[str, np.ndarray] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    timings: list[StepTiming] = field(default_factory=list)

    @property
    def manager(self) -> Actor:
        """The crew's bank manager, who assembles, approves, seals and handles incidents (set in step 2)."""
        if self.crew is None:
            raise RuntimeError("the review crew is created in step 2; later steps need it")
        return self.crew.manager

    def main_papers(self) -> list[dict[str, Any]]:
        return [p for p in self.papers if p["role"] == "main"]

    def paper_name(self, paper_id: int) -> str:
        return next(p["name"] for p in self.papers if p["id"] == paper_id)


@dataclass(frozen=True)
class Recovery:
    """Estimated against true parameters, item by item, with the usual summaries."""

    table: pd.DataFrame

    @property
    def rmse_a(self) -> float:
        return float(np.sqrt(np.mean((self.table["a_est"] - self.table["a_true"]) ** 2)))

    @property
    def rmse_b(self) -> float:
        return float(np.sqrt(np.mean((self.table["b_est"] - self.table["b_true"]) ** 2)))

    def summary(self) -> dict[str, float]:
        return {"rmse_a": self.rmse_a, "rmse_b": self.rmse_b,
                "corr_a": float(self.table["a_est"].corr(self.table["a_true"])),
                "corr_b": float(self.table["b_est"].corr(self.table["b_true"])),
                "recovered_items": len(self.table)}


def recovery(truth: pd.DataFrame, estimates: pd.DataFrame) -> Recovery:
    """Join a run's estimates to the truth by external item id (items the run held fixed are left out)."""
    estimated = estimates.loc[~estimates["fixed"].astype(bool), ["item_id", "a", "b"]]
    table = truth.merge(estimated, on="item_id", suffixes=("_true", "_est")).dropna(subset=["a_est", "b_est"])
    return Recovery(table.assign(true_model=np.where(table["c"].notna(), "3PL", "2PL")))
