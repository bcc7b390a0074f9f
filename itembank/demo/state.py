"""What the demo carries from step to step: its options, the bank, the actors, and the figures for the report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from calibration import CalibrationConfig
from calibration.config import BetaPrior
from itembank.models import Role
from itembank.sample_bank import DATA_DIR
from itembank.services.actors import Actor
from itembank.services.sample import ReviewCrew

SPEC_PATH = DATA_DIR / "specs" / "hr-manager-l3-theory.yaml"
ADMIN = Actor("admin", Role.ADMIN)
# The psychometrician's choice per item type: four-option single choice invites guessing (3PL, with the
# calibration core's Beta prior on c); multiple choice (all-or-nothing over five options) and true/false
# are fitted by the 2PL, whose c would be barely identified.
CALIBRATION_MODELS = {"single_choice": "3PL", "multiple_choice": "2PL", "true_false": "2PL"}
# With a few hundred responses per item, a hard single-choice item looks like pure guessing: under the default
# Beta(5, 17) prior its c can absorb every correct answer and b drifts without bound, so EM never converges. A prior
# with the same mode (0.2) and the weight of ~35 responses keeps c near chance and b finite.
CALIBRATION_CONFIG = CalibrationConfig(c_prior=BetaPrior(alpha=8.0, beta=29.0))


def short_paper_name(name: str) -> str:
    """A paper's name without the spec prefix: ``…-r1-main-2`` → ``r1-main-2``, ``…-replacement-r2-backup-1`` → ``replacement-r2-backup-1``."""
    match = re.search(r"(replacement-)?r\d+-(main|backup)-\d+$", name)
    return match.group(0) if match else name


@dataclass(frozen=True)
class DemoOptions:
    """Sizes of the run; the defaults are the full demo, tests pass smaller ones.

    The pilot sample defines the bank scale (abilities N(0, 1)); certification candidates have prepared,
    so their abilities are centred ``candidate_mean`` above the pilot's. The CAT simulation study gives
    ``cat_candidates`` simulees a CAT of ``cat_length`` items each.
    """

    out: Path
    n_items: int = 3000
    n_candidates: int = 4000
    pilot_responses_per_item: int = 300
    pretest_per_paper: int = 10
    candidate_mean: float = 0.5
    seed: int = 7
    level: int = 3
    spec_path: Path = SPEC_PATH
    cat_candidates: int = 40
    cat_length: int = 20

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
    pretest_ids: list[str] = field(default_factory=list)
    truth: pd.DataFrame = field(default_factory=pd.DataFrame)
    pilot_recovery: pd.DataFrame = field(default_factory=pd.DataFrame)
    pretest_recovery: pd.DataFrame = field(default_factory=pd.DataFrame)
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
    """Estimated against true parameters, item by item (``model`` is the fitted one), with the usual summaries."""

    table: pd.DataFrame

    @property
    def rmse_a(self) -> float:
        return _rmse(self.table, "a")

    @property
    def rmse_b(self) -> float:
        return _rmse(self.table, "b")

    def summary(self) -> dict[str, float]:
        return {"rmse_a": self.rmse_a, "rmse_b": self.rmse_b,
                "corr_a": float(self.table["a_est"].corr(self.table["a_true"])),
                "corr_b": float(self.table["b_est"].corr(self.table["b_true"])),
                "recovered_items": len(self.table)}

    def by_model(self) -> pd.DataFrame:
        """One row per fitted model (c only where the 3PL estimates it): the recovery the report shows."""
        rows = []
        for model, part in self.table.groupby("model", sort=True):
            error_b = part["b_est"] - part["b_true"]
            rows.append({"fitted model": model, "item types": ", ".join(sorted(part["type"].unique())),
                         "items": len(part), "RMSE a": _rmse(part, "a"), "RMSE b": _rmse(part, "b"),
                         "bias b": error_b.mean(), "median |Δb|": error_b.abs().median(),
                         "RMSE c": _rmse(part, "c") if model == "3PL" else np.nan,
                         "corr a": part["a_est"].corr(part["a_true"]), "corr b": part["b_est"].corr(part["b_true"])})
        return pd.DataFrame(rows)

    def rmse_line(self) -> str:
        """``3PL (n): RMSE a …, b …, c …; 2PL (n): …`` for a progress line."""
        return "; ".join(
            f"{row['fitted model']} ({row['items']}): RMSE a {row['RMSE a']:.3f}, b {row['RMSE b']:.3f}"
            + (f", c {row['RMSE c']:.3f}" if pd.notna(row["RMSE c"]) else "")
            for row in self.by_model().to_dict("records")
        )


def _rmse(table: pd.DataFrame, parameter: str) -> float:
    return float(np.sqrt(np.mean((table[f"{parameter}_est"] - table[f"{parameter}_true"]) ** 2)))


def recovery(truth: pd.DataFrame, estimates: pd.DataFrame) -> Recovery:
    """Join a run's estimates to the truth by external item id (items the run held fixed are left out).

    A 2PL fit has no c; its items are compared as c = 0 against a true c of 0 (2PL-generated) or the true guessing.
    """
    estimated = estimates.loc[~estimates["fixed"].astype(bool), ["item_id", "model", "a", "b", "c"]]
    table = truth.merge(estimated, on="item_id", suffixes=("_true", "_est")).dropna(subset=["a_est", "b_est"])
    table = table.assign(true_model=np.where(table["c_true"].notna(), "3PL", "2PL"),
                         c_true=table["c_true"].fillna(0.0), c_est=table["c_est"].fillna(0.0))
    return Recovery(table.reset_index(drop=True))
