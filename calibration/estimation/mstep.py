"""The M-step: Fisher scoring on expected counts, vectorised over all items of a model block.

Given expected counts r_jk(t) at the nodes t of every group, each item's complete-data
log-likelihood ``Σ_t Σ_k r_jk(t) log P_jk(t)`` is maximised by a few Fisher-scoring steps:
gradient ``Σ r/P ∂P`` and expected information ``Σ n ∂P ∂Pᵀ / P``, batched over items with
``np.linalg.solve``. The same two formulas serve every family because each family supplies its
category probabilities and their Jacobian. Priors (Beta on c, log-normal on a) enter as a
penalty, so the estimates are posterior modes where a prior is set. Group means and variances
are then the posterior moments of each group's ability (the reference group stays N(0, 1)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from calibration.config import CalibrationConfig, LogNormalPrior
from calibration.estimation.design import ColumnLayout, Design, ExpectedCounts
from calibration.estimation.families import POLYTOMOUS, Dichotomous
from calibration.estimation.parameters import ItemBlock, ModelState
from calibration.irt import FloatArray

_TINY = 1e-300
_MAX_STEP = 1.0
_MIN_SLOPE_FOR_PRIOR = 0.05


def m_step(state: ModelState, counts: ExpectedCounts, nodes: FloatArray, plan: MStepPlan,
           config: CalibrationConfig) -> None:
    """Update every free item parameter and group distribution in place."""
    flat_nodes = nodes.reshape(-1)
    for block, subsets in zip(state.blocks, plan.subsets, strict=True):
        if not block.free.any():
            continue
        current = [NodeSubset(s.rows, flat_nodes[s.columns], _subset_counts(block, s, counts, plan.layout))
                   for s in subsets]
        for _ in range(config.m_step_iterations):
            _fisher_step(block, current, config)
    _update_groups(state, counts, nodes)


@dataclass(frozen=True)
class SubsetPlan:
    """Items of a block answered by the same number of groups, and those groups' nodes.

    On a multi-paper design most items are seen by one group, so leaving out the other groups'
    nodes (all zero counts) cuts the M-step work by about the number of groups. Which group saw
    which item is fixed by the design, so the plan is made once per fit.
    """

    rows: np.ndarray  # positions in the block
    columns: np.ndarray  # (J_s, T_s) flat indices into the groups' nodes (G·Q)


@dataclass(frozen=True)
class MStepPlan:
    """The subset plans of every model block, with the E-step's indicator-column layout."""

    layout: ColumnLayout
    subsets: list[list[SubsetPlan]]

    @classmethod
    def build(cls, state: ModelState, design: Design, n_points: int) -> MStepPlan:
        return cls(design.layout, [_plan_block(block, design.seen_by, n_points) for block in state.blocks])


def _plan_block(block: ItemBlock, seen_by: np.ndarray, n_points: int) -> list[SubsetPlan]:
    groups_seen = seen_by[block.items].copy()
    groups_seen[~groups_seen.any(axis=1), 0] = True  # an item nobody answered keeps the first group's nodes
    n_seen = groups_seen.sum(axis=1)
    plans = []
    for size in np.unique(n_seen):
        rows = np.flatnonzero(n_seen == size)
        groups = np.nonzero(groups_seen[rows])[1].reshape(len(rows), size)
        columns = (groups[:, :, None] * n_points + np.arange(n_points)).reshape(len(rows), -1)
        plans.append(SubsetPlan(rows, columns))
    return plans


@dataclass(frozen=True)
class NodeSubset:
    """A subset plan with this iteration's node positions and expected counts (J_s, T_s, K)."""

    rows: np.ndarray
    theta: FloatArray  # (J_s, T_s)
    counts: FloatArray  # (J_s, T_s, K)


def _subset_counts(block: ItemBlock, plan: SubsetPlan, counts: ExpectedCounts, layout: ColumnLayout) -> FloatArray:
    """Expected counts per item, node and category, read straight from the E-step's node-major arrays."""
    n_nodes = counts.seen.shape[0] * counts.seen.shape[1]
    seen = counts.seen.reshape(n_nodes, -1)
    scored = counts.scored.reshape(n_nodes, -1)
    items = block.items[plan.rows]
    mask = block.category_mask[plan.rows]
    result = np.zeros(plan.columns.shape + (mask.shape[1],))
    for k in range(1, mask.shape[1]):
        has = mask[:, k]
        column = np.where(has, layout.offset[items] + k - 1, 0)
        result[:, :, k] = np.where(has[:, None], scored[plan.columns, column[:, None]], 0.0)
    result[:, :, 0] = np.maximum(seen[plan.columns, items[:, None]] - result[:, :, 1:].sum(axis=2), 0.0)
    return result


def gradient_and_information(block: ItemBlock, subset: NodeSubset) -> tuple[FloatArray, FloatArray]:
    """Per-item gradient (J_s, p) and expected information (J_s, p, p) of the complete-data log-likelihood."""
    rows = block.params[subset.rows][:, None, :]
    if block.model not in POLYTOMOUS:
        return _binary_terms(subset, rows)
    probs = block.family.probs(subset.theta, rows)  # (J_s, T_s, K)
    jac = block.family.jacobian(subset.theta, rows)  # (J_s, T_s, K, p)
    safe = np.where(block.category_mask[subset.rows][:, None, :], np.maximum(probs, _TINY), 1.0)
    n_items = len(subset.rows)
    jac = jac.reshape(n_items, -1, jac.shape[-1])
    grad = ((subset.counts / safe).reshape(n_items, 1, -1) @ jac)[:, 0, :]
    weight = (subset.counts.sum(axis=2, keepdims=True) / safe).reshape(n_items, -1, 1)
    info = (jac * weight).transpose(0, 2, 1) @ jac
    return grad, info


def _binary_terms(subset: NodeSubset, rows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The same two sums for a 0/1 item, where ∂P_0 = −∂P_1 halves them:
    gradient ``Σ (r_1 − n P_1) / (P_1 P_0) ∂P_1``, information ``Σ n / (P_1 P_0) ∂P_1 ∂P_1ᵀ``."""
    p1, dp1 = Dichotomous.success(subset.theta, rows)
    n = subset.counts.sum(axis=2)
    variance = np.maximum(p1 * (1.0 - p1), _TINY)
    grad = (((subset.counts[:, :, 1] - n * p1) / variance)[:, None, :] @ dp1)[:, 0, :]
    info = (dp1 * (n / variance)[:, :, None]).transpose(0, 2, 1) @ dp1
    return grad, info


def prior_terms(block: ItemBlock, config: CalibrationConfig) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log-prior per item, its gradient (J, p) and a positive curvature (J, p) for the diagonal."""
    params = block.params
    log_prior = np.zeros(len(params))
    grad = np.zeros(params.shape)
    curvature = np.zeros(params.shape)
    slope_prior = _slope_prior(block, config)
    if slope_prior is not None and block.free[:, 0].any():
        a = np.maximum(params[:, 0], _MIN_SLOPE_FOR_PRIOR)
        z = (np.log(a) - slope_prior.mean) / slope_prior.sd
        log_prior += -np.log(a) - 0.5 * z**2
        grad[:, 0] = -1.0 / a - z / (slope_prior.sd * a)
        curvature[:, 0] = 1.0 / (slope_prior.sd * a) ** 2
    if block.model == "3PL" and config.c_prior is not None:
        alpha, beta = config.c_prior.alpha, config.c_prior.beta
        c = expit(params[:, 2])
        log_prior += (alpha - 1) * np.log(c) + (beta - 1) * np.log1p(-c)
        grad[:, 2] = (alpha - 1) * (1 - c) - (beta - 1) * c
        curvature[:, 2] = (alpha + beta - 2) * c * (1 - c)
    free = block.free
    return np.where(free.any(axis=1), log_prior, 0.0), np.where(free, grad, 0.0), np.where(free, curvature, 0.0)


def log_prior(state: ModelState, config: CalibrationConfig) -> float:
    return float(sum(prior_terms(block, config)[0].sum() for block in state.blocks))


def _slope_prior(block: ItemBlock, config: CalibrationConfig) -> LogNormalPrior | None:
    return config.slope_prior_3pl if block.model == "3PL" else config.slope_prior


def _fisher_step(block: ItemBlock, subsets: list[NodeSubset], config: CalibrationConfig) -> None:
    n_params = block.params.shape[1]
    grad = np.zeros(block.params.shape)
    info = np.zeros((len(block.items), n_params, n_params))
    for subset in subsets:
        grad[subset.rows], info[subset.rows] = gradient_and_information(block, subset)
    _, prior_grad, prior_curv = prior_terms(block, config)
    free = block.free
    grad = np.where(free, grad + prior_grad, 0.0)
    info = info + prior_curv[:, :, None] * np.eye(info.shape[1])[None]
    fixed_pair = ~(free[:, :, None] & free[:, None, :])
    info = np.where(fixed_pair, 0.0, info) + np.where(free, 1e-8, 1.0)[:, :, None] * np.eye(info.shape[1])[None]
    step = np.asarray(
        _tied_slope_step(grad, info, free) if block.tied_slope else np.linalg.solve(info, grad[..., None])[..., 0],
        dtype=float,
    )
    largest = np.nanmax(np.abs(step), axis=1, initial=0.0)
    step *= np.minimum(1.0, _MAX_STEP / np.maximum(largest, 1e-12))[:, None]
    step = np.where(free, step, 0.0)
    _apply_ordered(block, step)


def _tied_slope_step(grad: FloatArray, info: FloatArray, free: np.ndarray) -> FloatArray:
    """Joint Newton step for one common slope and per-item intercepts (Schur complement on the slope)."""
    i_aa, i_ad, i_dd = info[:, 0, 0], info[:, 0, 1], info[:, 1, 1]
    g_a, g_d = grad[:, 0], grad[:, 1]
    slope_free = free[:, 0]
    schur = i_aa[slope_free].sum() - (i_ad**2 / i_dd)[slope_free].sum()
    delta_a = ((g_a - i_ad * g_d / i_dd)[slope_free].sum()) / max(schur, 1e-12)
    step = np.zeros(grad.shape)
    step[:, 0] = np.where(slope_free, delta_a, 0.0)
    step[:, 1] = (g_d - i_ad * step[:, 0]) / i_dd
    return step


def _apply_ordered(block: ItemBlock, step: FloatArray) -> None:
    """Take the step, halving it for graded items whose intercepts would lose their order."""
    params = block.params
    for _ in range(30):
        trial = np.where(block.free, params + step, params)
        if block.model != "GRM":
            break
        gaps = np.diff(trial[:, 1:], axis=1)
        broken = np.any(np.nan_to_num(gaps, nan=-1.0) >= 0, axis=1)
        if not broken.any():
            break
        step[broken] *= 0.5
    else:
        trial = np.where(broken[:, None], params, trial)
    block.params[:] = trial


def _update_groups(state: ModelState, counts: ExpectedCounts, nodes: FloatArray) -> None:
    groups = state.groups
    total = np.maximum(counts.mass.sum(axis=1), 1e-12)
    mean = (counts.mass * nodes).sum(axis=1) / total
    groups.mean[groups.free_mean] = mean[groups.free_mean]
    variance = (counts.mass * (nodes - groups.mean[:, None]) ** 2).sum(axis=1) / total
    log_sd = 0.5 * np.log(np.maximum(variance, 1e-6))
    groups.log_sd[groups.free_log_sd] = log_sd[groups.free_log_sd]
