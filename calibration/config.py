"""Calibration settings as validated data, with every default in one place."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BetaPrior(BaseModel):
    """Beta(alpha, beta) prior on the 3PL lower asymptote c; the default Beta(5, 17) has mode 0.2
    (BILOG-MG's default for four-option items) and keeps c off the 0/1 boundary on thin data."""

    model_config = ConfigDict(frozen=True)
    alpha: float = Field(default=5.0, gt=0)
    beta: float = Field(default=17.0, gt=0)


class LogNormalPrior(BaseModel):
    """Log-normal prior on slopes a: log a ~ N(mean, sd²). Off by default for 1PL/2PL (plain MML)."""

    model_config = ConfigDict(frozen=True)
    mean: float = 0.0
    sd: float = Field(default=0.5, gt=0)


class CalibrationConfig(BaseModel):
    """How marginal maximum likelihood is run: quadrature, convergence, priors, standard errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quadrature_points: int = Field(default=61, ge=11, le=201, description="rectangular grid points over ±quadrature_bound")
    quadrature_bound: float = Field(default=6.0, gt=2.0, le=10.0)
    max_iter: int = Field(default=2000, ge=1, description="EM iterations (E-step evaluations) before giving up")
    tol: float = Field(default=1e-4, gt=0, description="stop when the estimated distance to the maximum (largest EM step / (1 − EM rate)) is below this")
    acceleration: Literal["squarem", "none"] = "squarem"
    m_step_iterations: int = Field(default=2, ge=1, le=20, description="Fisher-scoring steps per M-step")
    c_prior: BetaPrior | None = BetaPrior()
    slope_prior: LogNormalPrior | None = None
    slope_prior_3pl: LogNormalPrior | None = LogNormalPrior(mean=0.0, sd=0.5)
    se_method: Literal["crossprod", "none"] = "crossprod"
    reference_group: str | None = Field(default=None, description="group fixed at N(0,1); default the first group")
    blas_threads: int | None = Field(default=
        1, ge=1, description="BLAS threads during EM; the products are small, so extra threads mostly contend"
    )
    threads: int | None = Field(
        default=None, ge=1, description="threads sharing the E-step's pattern blocks; default one per CPU core"
    )
    min_block_size: int = Field(default=8, ge=1, description="persons sharing a pattern below this are scored sparsely")
