"""Standard errors by the cross-product (XPD) approximation to the observed information.

The marginal log-likelihood is a sum over persons, so its information is approximated by
``Σ_i s_i s_iᵀ`` where ``s_i`` is person i's marginal score: the posterior expectation of the
complete-data score (Fisher's identity), ``Σ_q post_iq ∂ log P_j(x_ij | θ_q)`` for each item
parameter and ``E[(θ − μ)/σ²]``, ``E[(θ − μ)²/σ² − 1]`` for the group mean and log-sd. This is
R mirt's ``SE.type = "crossprod"``: one pass over the data, cheap on 40,000 persons (each person
touches only their paper's parameters, so each pattern block contributes a small dense SᵀS).
Prior curvature is added on the diagonal. Reported-scale errors (b, c, thresholds) follow by the
delta method with a numerical Jacobian of each family's ``report``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from calibration.config import CalibrationConfig
from calibration.errors import CalibrationWarning
from calibration.estimation.design import Design, LogTables, PatternBlock, block_posteriors
from calibration.estimation.families import ReportedItem
from calibration.estimation.mstep import prior_terms
from calibration.estimation.parameters import ItemBlock, ModelState
from calibration.irt import FloatArray
from calibration.quadrature import Quadrature
from calibration.responses import ResponseMatrix

_TINY = 1e-300


@dataclass(frozen=True)
class Covariance:
    """Covariance of the packed free parameters (NaN when standard errors were not computed)."""

    matrix: FloatArray

    @classmethod
    def absent(cls, n_free: int) -> Covariance:
        return cls(np.full((n_free, n_free), np.nan))

    def of_items(self, index: np.ndarray) -> FloatArray:
        """Per-item covariance (J, p, p) of the parameter rows whose packed positions are ``index``."""
        safe = np.where(index >= 0, index, 0)
        cov = self.matrix[safe[:, :, None], safe[:, None, :]]
        present = (index >= 0)[:, :, None] & (index >= 0)[:, None, :]
        return np.where(present, cov, 0.0)

    def group_errors(self, state: ModelState) -> tuple[FloatArray, FloatArray]:
        g = state.groups
        variances = np.diag(self.matrix)[state.n_free_items :]
        k = int(g.free_mean.sum())
        se_mean = np.full(g.mean.shape, np.nan)
        se_log_sd = np.full(g.mean.shape, np.nan)
        se_mean[g.free_mean] = np.sqrt(np.maximum(variances[:k], 0.0))
        se_log_sd[g.free_log_sd] = np.sqrt(np.maximum(variances[k:], 0.0))
        return se_mean, se_log_sd


def crossproduct_covariance(state: ModelState, design: Design, tables: LogTables, quadrature: Quadrature,
                            matrix: ResponseMatrix, config: CalibrationConfig) -> Covariance:
    """Invert the cross-product information of all free parameters (items, then group mean/log-sd)."""
    n_free = state.n_free
    information = np.zeros((n_free, n_free))
    item_scores = _ItemScores(state, tables)
    group_columns = _group_columns(state)
    indptr = np.searchsorted(matrix.person_index, np.arange(matrix.n_persons + 1))
    for block, posterior, _ in block_posteriors(design, tables, quadrature):
        columns, scores = item_scores.person_scores(block, posterior, matrix, indptr)
        extra_cols, extra = _group_scores(state, block.group, posterior, tables.nodes[block.group], group_columns)
        columns = np.concatenate([columns, extra_cols])
        scores = np.hstack([scores, extra])
        information[np.ix_(columns, columns)] += scores.T @ scores
    for item_block in state.blocks:
        _, _, curvature = prior_terms(item_block, config)
        free_index = item_block.index[item_block.free]
        np.add.at(information, (free_index, free_index), curvature[item_block.free])
    try:
        covariance = np.asarray(np.linalg.inv(information), dtype=float)
        if np.any(np.diag(covariance) < 0):
            raise np.linalg.LinAlgError("information matrix is not positive definite")
    except np.linalg.LinAlgError as exc:
        warnings.warn(f"standard errors unavailable: {exc}", CalibrationWarning, stacklevel=3)
        return Covariance.absent(n_free)
    return Covariance(covariance)


class _ItemScores:
    """∂ log P_jk / ∂ params at each group's nodes, per model block, and their posterior averages."""

    def __init__(self, state: ModelState, tables: LogTables) -> None:
        n_groups, n_points = tables.nodes.shape
        flat = tables.nodes.reshape(-1, 1)
        self.state = state
        self.gradients = []
        for block in state.blocks:
            probs = block.family.probs(flat, block.params)
            jac = block.family.jacobian(flat, block.params)
            safe = np.where(block.category_mask[None], np.maximum(probs, _TINY), 1.0)
            grad = np.nan_to_num(jac / safe[..., None])
            self.gradients.append(grad.reshape((n_groups, n_points) + grad.shape[1:]))
        n_items = sum(len(b.items) for b in state.blocks)
        self.item_block = np.empty(n_items, dtype=np.int64)
        self.item_local = np.empty(n_items, dtype=np.int64)
        for b, block in enumerate(state.blocks):
            self.item_block[block.items] = b
            self.item_local[block.items] = np.arange(len(block.items))

    def person_scores(self, block: PatternBlock, posterior: FloatArray, matrix: ResponseMatrix,
                      indptr: np.ndarray) -> tuple[np.ndarray, FloatArray]:
        """Packed columns touched by these persons and their marginal scores (n_persons × columns)."""
        starts, stops = indptr[block.persons], indptr[block.persons + 1]
        lengths = stops - starts
        cells = np.repeat(stops - lengths.cumsum(), lengths) + np.arange(lengths.sum())
        person = np.repeat(np.arange(len(block.persons)), lengths)
        item, score = matrix.item_index[cells], matrix.score[cells]
        parts_person, parts_column, parts_value = [], [], []
        for b, model_block in enumerate(self.state.blocks):
            in_block = self.item_block[item] == b
            if not in_block.any() or not model_block.free.any():
                continue
            local = self.item_local[item[in_block]]
            used, position = np.unique(local, return_inverse=True)
            grad = self.gradients[b][block.group][:, used]  # (Q, U, K, p)
            averaged = (posterior @ grad.reshape(grad.shape[0], -1)).reshape((len(posterior),) + grad.shape[1:])
            values = averaged[person[in_block], position, score[in_block], :]  # (obs, p)
            index = model_block.index[local]
            keep = index >= 0
            parts_person.append(np.broadcast_to(person[in_block][:, None], index.shape)[keep])
            parts_column.append(index[keep])
            parts_value.append(values[keep])
        if not parts_column:
            return np.empty(0, dtype=np.int64), np.zeros((len(block.persons), 0))
        columns, column_pos = np.unique(np.concatenate(parts_column), return_inverse=True)
        scores = np.zeros((len(block.persons), len(columns)))
        np.add.at(scores, (np.concatenate(parts_person), column_pos), np.concatenate(parts_value))
        return columns, scores


def _group_columns(state: ModelState) -> tuple[np.ndarray, np.ndarray]:
    g = state.groups
    mean_cols = np.full(g.mean.shape, -1)
    sd_cols = np.full(g.mean.shape, -1)
    k = int(g.free_mean.sum())
    mean_cols[g.free_mean] = state.n_free_items + np.arange(k)
    sd_cols[g.free_log_sd] = state.n_free_items + k + np.arange(int(g.free_log_sd.sum()))
    return mean_cols, sd_cols


def _group_scores(state: ModelState, group: int, posterior: FloatArray, nodes: FloatArray,
                  columns: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, FloatArray]:
    mean, sd = state.groups.mean[group], state.groups.sd[group]
    z = (nodes - mean) / sd
    cols, values = [], []
    if columns[0][group] >= 0:
        cols.append(columns[0][group])
        values.append(posterior @ (z / sd))
    if columns[1][group] >= 0:
        cols.append(columns[1][group])
        values.append(posterior @ (z**2 - 1.0))
    return np.asarray(cols, dtype=np.int64), np.column_stack(values) if values else np.zeros((len(posterior), 0))


def reported_errors(block: ItemBlock, covariance: Covariance) -> ReportedItem:
    """Delta-method standard errors of a, b, c and thresholds from the packed covariance."""
    params = block.params
    base = _flatten(block.family.report(params))
    jacobian = np.zeros(base.shape + (params.shape[1],))
    for p in range(params.shape[1]):
        h = 1e-6 * np.maximum(1.0, np.abs(np.nan_to_num(params[:, p], posinf=0.0, neginf=0.0)))
        up, down = params.copy(), params.copy()
        up[:, p] += h
        down[:, p] -= h
        with np.errstate(invalid="ignore"):
            jacobian[:, :, p] = (_flatten(block.family.report(up)) - _flatten(block.family.report(down))) / (2 * h[:, None])
    jacobian = np.nan_to_num(jacobian, nan=0.0, posinf=0.0, neginf=0.0)
    cov = covariance.of_items(block.index)
    variance = np.einsum("jrp,jpq,jrq->jr", jacobian, cov, jacobian)
    se = np.sqrt(np.maximum(variance, 0.0))
    any_free = np.asarray(block.free.any(axis=1), dtype=bool)
    unestimated = np.isnan(base) | ~any_free[:, None]
    unestimated[:, 0] |= ~block.free[:, 0]
    se = np.where(unestimated, np.nan, se)
    return ReportedItem(a=se[:, 0], b=se[:, 1], c=se[:, 2], thresholds=se[:, 3:])


def _flatten(item: ReportedItem) -> FloatArray:
    return np.column_stack([item.a, item.b, item.c, item.thresholds])
