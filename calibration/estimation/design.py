"""The E-step on an incomplete design, done as dense BLAS products per response-pattern block.

Candidates who sat the same paper in the same group saw the same items, so their responses form
a dense block. For such a block the log-likelihood at every node is one matrix product
``Y @ log_ratio`` (Y the 0/1 indicators of scores ≥ 1, log_ratio = log P_k − log P_0 at each
node) plus the constant ``Σ log P_0``, and the expected counts are ``Yᵀ @ posterior`` and a
column sum: no element-wise sparse work. Persons whose pattern is rare (fewer than
``min_block_size`` share it) are pooled per group into one scipy.sparse block with an
observed-item mask, so arbitrary missingness still works without densifying.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from calibration.estimation.parameters import ModelState
from calibration.irt import FloatArray
from calibration.quadrature import Quadrature
from calibration.responses import ResponseMatrix

_TINY = 1e-300


@dataclass(frozen=True)
class ColumnLayout:
    """Indicator columns: item j owns columns offset[j] .. offset[j] + n_categories[j] − 2 (scores 1..max)."""

    offset: np.ndarray
    n_columns: int

    @classmethod
    def from_categories(cls, n_categories: np.ndarray) -> ColumnLayout:
        widths = n_categories - 1
        offset = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        return cls(offset=offset, n_columns=int(widths.sum()))


@dataclass(frozen=True)
class PatternBlock:
    """Persons of one group; dense when they share one item pattern, sparse (with a mask) otherwise."""

    group: int
    persons: np.ndarray
    items: np.ndarray
    columns: np.ndarray
    indicators: FloatArray | sparse.csr_array
    mask: sparse.csr_array | None


@dataclass(frozen=True)
class Design:
    """The response matrix cut into pattern blocks, with the indicator column layout."""

    layout: ColumnLayout
    blocks: list[PatternBlock]
    n_groups: int
    n_items: int
    seen_by: np.ndarray  # (n_items, n_groups) bool: which groups answered each item

    @classmethod
    def build(cls, matrix: ResponseMatrix, min_block_size: int) -> Design:
        layout = ColumnLayout.from_categories(matrix.max_score + 1)
        indptr = np.searchsorted(matrix.person_index, np.arange(matrix.n_persons + 1))
        count = np.diff(indptr)
        rng = np.random.default_rng(20240601)
        weights = rng.random((matrix.n_items, 2))
        hashes = matrix.observed.astype(float) @ weights
        keys = np.column_stack([matrix.group, count, hashes])
        _, pattern = np.unique(keys, axis=0, return_inverse=True)
        sizes = np.bincount(pattern)
        blocks = [
            _dense_block(matrix, layout, indptr, np.flatnonzero(pattern == p))
            for p in np.flatnonzero(sizes >= min_block_size)
        ]
        rare = sizes[pattern] < min_block_size
        for g in range(matrix.n_groups):
            persons = np.flatnonzero(rare & (matrix.group == g))
            if len(persons):
                blocks.append(_sparse_block(matrix, layout, persons, g))
        seen_by = np.zeros((matrix.n_items, matrix.n_groups), dtype=bool)
        seen_by[matrix.item_index, matrix.group[matrix.person_index]] = True
        return cls(layout=layout, blocks=blocks, n_groups=matrix.n_groups, n_items=matrix.n_items, seen_by=seen_by)


def _dense_block(matrix: ResponseMatrix, layout: ColumnLayout, indptr: np.ndarray, persons: np.ndarray) -> PatternBlock:
    start = indptr[persons[0]]
    items = matrix.item_index[start : indptr[persons[0] + 1]]
    cells = indptr[persons][:, None] + np.arange(len(items))[None, :]
    scores = matrix.score[cells]
    widths = matrix.max_score[items]
    local_offset = np.concatenate([[0], np.cumsum(widths)[:-1]])
    columns = np.concatenate([layout.offset[j] + np.arange(w) for j, w in zip(items, widths, strict=True)])
    indicators = np.zeros((len(persons), int(widths.sum())))
    rows, cols = np.nonzero(scores > 0)
    indicators[rows, local_offset[cols] + scores[rows, cols] - 1] = 1.0
    return PatternBlock(
        group=int(matrix.group[persons[0]]), persons=persons, items=items, columns=columns,
        indicators=indicators, mask=None,
    )


def _sparse_block(matrix: ResponseMatrix, layout: ColumnLayout, persons: np.ndarray, group: int) -> PatternBlock:
    local = np.full(matrix.n_persons, -1)
    local[persons] = np.arange(len(persons))
    take = local[matrix.person_index] >= 0
    rows, items, scores = local[matrix.person_index[take]], matrix.item_index[take], matrix.score[take]
    positive = scores > 0
    indicators = sparse.csr_array(
        (np.ones(int(positive.sum())), (rows[positive], layout.offset[items[positive]] + scores[positive] - 1)),
        shape=(len(persons), layout.n_columns),
    )
    mask = sparse.csr_array((np.ones(len(rows)), (rows, items)), shape=(len(persons), matrix.n_items))
    return PatternBlock(
        group=group, persons=persons, items=np.arange(matrix.n_items), columns=np.arange(layout.n_columns),
        indicators=indicators, mask=mask,
    )


@dataclass(frozen=True)
class LogTables:
    """log P_0 per item and log(P_k / P_0) per indicator column, at each group's nodes: (G, ·, Q)."""

    base: FloatArray
    ratio: FloatArray
    nodes: FloatArray


def log_tables(state: ModelState, design: Design, quadrature: Quadrature) -> LogTables:
    """The tables at the nodes of the groups that answered each item only (the others are never read,
    and on a multi-paper design they are most of the grid)."""
    nodes = quadrature.nodes(state.groups.mean, state.groups.sd)
    n_groups, n_points = nodes.shape
    base = np.zeros((n_groups, design.n_items, n_points))
    ratio = np.zeros((n_groups, design.layout.n_columns, n_points))
    for block in state.blocks:
        item_pos, group = np.nonzero(design.seen_by[block.items])
        items = block.items[item_pos]
        logp = np.log(np.maximum(block.family.probs(nodes[group], block.params[item_pos][:, None, :]), _TINY))
        base[group, items] = logp[:, :, 0]
        mask = block.category_mask[item_pos]
        for k in range(1, mask.shape[1]):
            has = mask[:, k]
            ratio[group[has], design.layout.offset[items[has]] + k - 1] = logp[has, :, k] - logp[has, :, 0]
    return LogTables(base=base, ratio=ratio, nodes=nodes)


def block_posterior(block: PatternBlock, tables: LogTables, log_weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """One block's posterior over its group's nodes (nodes × persons) and its persons' marginal log-likelihood.

    Node-major, and done in place on the one array: this is the E-step's inner loop, and with
    persons along the rows every reduction over the nodes (max, sum) runs across contiguous rows
    instead of along 61-element ones, which made those passes cost as much as the two products.
    """
    ratio = tables.ratio[block.group]
    base = tables.base[block.group]
    if block.mask is None:
        posterior = ratio[block.columns].T @ block.indicators.T
        posterior += (base[block.items].sum(axis=0) + log_weights)[:, None]
    else:
        posterior = np.ascontiguousarray((block.indicators @ ratio + block.mask @ base).T)
        posterior += log_weights[:, None]
    top = posterior.max(axis=0)
    posterior -= top
    np.exp(posterior, out=posterior)
    total = posterior.sum(axis=0)
    posterior /= total
    return posterior, top + np.log(total)


def block_posteriors(
    design: Design, tables: LogTables, quadrature: Quadrature
) -> Iterator[tuple[PatternBlock, FloatArray, FloatArray]]:
    """Each block with its persons' posterior over the group's nodes (persons × nodes) and their
    marginal log-likelihood."""
    for block in design.blocks:
        posterior, person_loglik = block_posterior(block, tables, quadrature.log_weights)
        yield block, np.ascontiguousarray(posterior.T), person_loglik


@dataclass(frozen=True)
class ExpectedCounts:
    """E-step output: expected counts at each group's nodes (node-major, so BLAS writes rows)."""

    scored: FloatArray  # (G, Q, C): expected number scoring in each column's category
    seen: FloatArray  # (G, Q, J): expected number who saw the item
    mass: FloatArray  # (G, Q): posterior mass of each group at each node
    loglik: float


def e_step(design: Design, tables: LogTables, quadrature: Quadrature, workers: Executor | None = None) -> ExpectedCounts:
    """Expected counts of all blocks; ``workers`` share the blocks (numpy releases the GIL in the
    products and ufuncs that make up a block, so threads scale on the E-step)."""
    log_weights = quadrature.log_weights

    def block_counts(block: PatternBlock) -> tuple[FloatArray, FloatArray, FloatArray, float]:
        posterior, person_loglik = block_posterior(block, tables, log_weights)
        node_mass = posterior.sum(axis=1)
        if block.mask is None:
            return posterior @ block.indicators, node_mass[:, None], node_mass, float(person_loglik.sum())
        return ((block.indicators.T @ posterior.T).T, (block.mask.T @ posterior.T).T, node_mass,
                float(person_loglik.sum()))

    n_points = quadrature.z.size
    scored = np.zeros((design.n_groups, n_points, design.layout.n_columns))
    seen = np.zeros((design.n_groups, n_points, design.n_items))
    mass = np.zeros((design.n_groups, n_points))
    loglik = 0.0
    parts = map(block_counts, design.blocks) if workers is None else workers.map(block_counts, design.blocks)
    for block, (block_scored, block_seen, node_mass, block_loglik) in zip(design.blocks, parts, strict=True):
        g = block.group
        scored[g][:, block.columns] += block_scored
        seen[g][:, block.items] += block_seen
        mass[g] += node_mass
        loglik += block_loglik
    return ExpectedCounts(scored=scored, seen=seen, mass=mass, loglik=loglik)
