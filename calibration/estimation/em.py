"""Bock–Aitkin EM with SQUAREM acceleration.

The EM map ``x → M(E(x))`` over the packed free parameters is slow on linked multi-group
designs: group means move only as fast as the anchor items let them, and plain EM crawls there.
SQUAREM (Varadhan & Roland 2008, scheme S3) extrapolates along two successive EM steps and
stabilises with one more; a step that lowers the penalised log-likelihood or leaves the parameter
space is discarded for the plain EM result, so the run keeps EM's monotone behaviour.

Convergence: the estimated distance to the EM fixed point falls below ``tol``. A small step is
not enough: EM converges linearly, ``|x_k − x*| ≈ |x_{k+1} − x_k| / (1 − ρ)`` with ρ the
contraction rate, and on linked designs ρ is close to 1 along the scale (group means move only
through the anchors), so "no parameter moved more than tol" stopped group means ~0.01 short of
the maximum. ρ is estimated from pairs of consecutive plain EM steps (the ratio of their largest
changes, as in Aitken-type stopping rules, McLachlan & Krishnan, *The EM Algorithm and
Extensions*, §4.9). Under SQUAREM one pair is a poor estimate (the extrapolation removes most of
the slow component, so the next two steps show the fast ones), but the rate is a property of the
EM map near its fixed point, so the largest contracting ratio seen so far is kept, capped so that
no single ratio can stall the run.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from calibration.config import CalibrationConfig
from calibration.estimation.design import Design, e_step, log_tables
from calibration.estimation.mstep import MStepPlan, log_prior, m_step
from calibration.estimation.parameters import ModelState
from calibration.irt import FloatArray
from calibration.quadrature import Quadrature

_MAX_STEP_GROWTH = 4.0
_MONOTONE_SLACK = 1e-3
_RATE_CAP = 0.999


@dataclass
class EMTrace:
    """How the run went: convergence flag, EM evaluations, objective path, accelerations accepted.

    ``max_change`` is the largest change in the last plain EM step and ``rate`` the estimated
    contraction rate, so ``distance`` estimates how far the returned point is from the maximum.
    """

    tol: float
    converged: bool = False
    n_iter: int = 0
    max_change: float = np.inf
    rate: float = 0.0
    objective: list[float] = field(default_factory=list)
    accelerations: int = 0

    @property
    def distance(self) -> float:
        return self.max_change / (1.0 - self.rate)

    def record_step(self, before: FloatArray, after: FloatArray, *, consecutive: bool) -> bool:
        """Note one plain EM step; ``consecutive`` when it follows the previous one directly (a rate
        estimate), and True when the run has converged."""
        change = float(np.max(np.abs(after - before), initial=0.0))
        if consecutive and change < self.max_change:
            self.rate = min(max(self.rate, change / self.max_change), _RATE_CAP)
        self.max_change = change
        return self.distance < self.tol


class _EMMap:
    """One EM step from a packed parameter vector, counting evaluations and feeding the progress bar."""

    def __init__(self, state: ModelState, design: Design, quadrature: Quadrature, config: CalibrationConfig,
                 trace: EMTrace, bar: tqdm, workers: Executor | None) -> None:
        self.state, self.design, self.quadrature, self.config = state, design, quadrature, config
        self.trace, self.bar, self.workers = trace, bar, workers
        self.plan = MStepPlan.build(state, design, quadrature.z.size)

    def __call__(self, x: FloatArray) -> tuple[FloatArray, float]:
        self.state.unpack(x)
        tables = log_tables(self.state, self.design, self.quadrature)
        counts = e_step(self.design, tables, self.quadrature, self.workers)
        objective = counts.loglik + log_prior(self.state, self.config)
        m_step(self.state, counts, tables.nodes, self.plan, self.config)
        self.trace.n_iter += 1
        self.trace.objective.append(objective)
        self.bar.update(1)
        self.bar.set_postfix(loglik=f"{counts.loglik:.2f}", refresh=False)
        return self.state.pack(), objective


def run_em(state: ModelState, design: Design, quadrature: Quadrature, config: CalibrationConfig,
           *, progress: bool = False) -> EMTrace:
    """Fit ``state`` in place; the returned trace says whether and how fast it converged."""
    trace = EMTrace(config.tol)
    threads = min(config.threads or os.cpu_count() or 1, len(design.blocks))
    with (
        threadpool_limits(limits=config.blas_threads, user_api="blas"),
        ThreadPoolExecutor(threads) if threads > 1 else nullcontext() as workers,
        tqdm(total=config.max_iter, desc="calibrating", delay=1.0, disable=not progress, leave=False) as bar,
    ):
        em_map = _EMMap(state, design, quadrature, config, trace, bar, workers)
        x0 = state.pack()
        step_bound = 1.0
        plain = False
        while trace.n_iter < config.max_iter:
            x1, _ = em_map(x0)
            if trace.record_step(x0, x1, consecutive=plain) or x0.size == 0:
                trace.converged = True
                x0 = x1
                break
            if config.acceleration == "none" or trace.n_iter >= config.max_iter:
                x0, plain = x1, True
                continue
            x2, objective_1 = em_map(x1)
            if trace.record_step(x1, x2, consecutive=True):
                trace.converged = True
                x0 = x2
                break
            x0, step_bound = _squarem_step(em_map, state, x0, x1, x2, objective_1, step_bound, trace)
            plain = False
        state.unpack(x0)
    return trace


def _squarem_step(em_map: _EMMap, state: ModelState, x0: FloatArray, x1: FloatArray, x2: FloatArray,
                  objective_1: float, step_bound: float, trace: EMTrace) -> tuple[FloatArray, float]:
    r = x1 - x0
    v = x2 - x1 - r
    v_norm = float(np.linalg.norm(v))
    if v_norm == 0.0 or trace.n_iter >= em_map.config.max_iter:
        return x2, step_bound
    alpha = -min(max(float(np.linalg.norm(r)) / v_norm, 1.0), step_bound)
    x_acc = x0 - 2.0 * alpha * r + alpha**2 * v
    state.unpack(x_acc)
    if not state.is_valid():
        return x2, max(1.0, step_bound / _MAX_STEP_GROWTH)
    x_acc = state.pack()
    x3, objective_acc = em_map(x_acc)
    if not np.isfinite(objective_acc) or objective_acc < objective_1 - _MONOTONE_SLACK:
        return x2, max(1.0, step_bound / _MAX_STEP_GROWTH)
    trace.accelerations += 1
    grown = step_bound * _MAX_STEP_GROWTH if -alpha >= step_bound else step_bound
    return x3, grown
