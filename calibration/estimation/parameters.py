"""The parameters being estimated: item blocks by model, group distributions, and their packing.

Items are held in one block per model name (all 2PL items together, all GRM items together...)
so each M-step is vectorised over a block. Free parameters are packed into one vector, the
coordinate system that EM acceleration (SQUAREM) and the standard errors work in; a 1PL block's
slopes share one entry of that vector, and fixed (FIPC) items have no entries at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from calibration.errors import CalibrationSpecError
from calibration.estimation.families import MODEL_FAMILIES, POLYTOMOUS, Family
from calibration.irt import FloatArray

SLOPE_BOUND = 20.0
INTERCEPT_BOUND = 40.0


@dataclass
class ItemBlock:
    """Items of one model: global item indices, parameter rows and which entries are free."""

    model: str
    items: np.ndarray
    params: FloatArray
    free: np.ndarray
    n_categories: np.ndarray
    index: np.ndarray = field(init=False)

    @property
    def family(self) -> Family:
        return MODEL_FAMILIES[self.model]

    @property
    def tied_slope(self) -> bool:
        return self.model == "1PL"

    @property
    def category_mask(self) -> np.ndarray:
        """Which of the block's K category slots each item actually has."""
        width = self.params.shape[1] - 1 if self.model in POLYTOMOUS else 1
        return np.arange(width + 1)[None, :] < self.n_categories[:, None]


@dataclass
class GroupDistribution:
    """Latent N(mean, sd²) per group; ``free`` says which means and log-sds are estimated."""

    mean: FloatArray
    log_sd: FloatArray
    free_mean: np.ndarray
    free_log_sd: np.ndarray

    @property
    def sd(self) -> FloatArray:
        return np.exp(self.log_sd)


@dataclass
class ModelState:
    """All parameters of one calibration, with the map between them and the packed free vector."""

    blocks: list[ItemBlock]
    groups: GroupDistribution
    n_free_items: int = field(init=False)

    def __post_init__(self) -> None:
        start = 0
        for block in self.blocks:
            block.index = np.full(block.free.shape, -1, dtype=np.int64)
            if block.tied_slope and block.free[:, 0].any():
                block.index[block.free[:, 0], 0] = start
                start += 1
                rest = block.free.copy()
                rest[:, 0] = False
            else:
                rest = block.free
            block.index[rest] = start + np.arange(int(rest.sum()))
            start += int(rest.sum())
        self.n_free_items = start

    @property
    def n_free(self) -> int:
        return self.n_free_items + int(self.groups.free_mean.sum() + self.groups.free_log_sd.sum())

    def pack(self) -> FloatArray:
        x = np.empty(self.n_free)
        for block in self.blocks:
            x[block.index[block.free]] = block.params[block.free]
        g = self.groups
        k = int(g.free_mean.sum())
        x[self.n_free_items : self.n_free_items + k] = g.mean[g.free_mean]
        x[self.n_free_items + k :] = g.log_sd[g.free_log_sd]
        return x

    def unpack(self, x: FloatArray) -> None:
        for block in self.blocks:
            block.params[block.free] = x[block.index[block.free]]
            block.params[:, 0] = np.clip(block.params[:, 0], -SLOPE_BOUND, SLOPE_BOUND)
            block.params[:, 1:] = np.clip(block.params[:, 1:], -INTERCEPT_BOUND, INTERCEPT_BOUND)
        g = self.groups
        k = int(g.free_mean.sum())
        g.mean[g.free_mean] = x[self.n_free_items : self.n_free_items + k]
        g.log_sd[g.free_log_sd] = np.clip(x[self.n_free_items + k :], np.log(0.05), np.log(20.0))

    def is_valid(self) -> bool:
        """Graded intercepts must stay ordered; anything else is kept in range by ``unpack``."""
        for block in self.blocks:
            if block.model == "GRM":
                gaps = np.diff(block.params[:, 1:], axis=1)
                if np.any(gaps[~np.isnan(gaps)] >= 0):
                    return False
        return bool(np.all(np.isfinite(self.pack())))


def build_blocks(
    models: pd.Series, max_score: np.ndarray, fixed: pd.DataFrame | None, start: FloatArray
) -> list[ItemBlock]:
    """One block per model with starting values; rows of ``fixed`` are copied in and frozen.

    ``models`` is indexed by item position; ``start`` holds a per-item starting location (logit of
    the proportion correct, a classical start that puts intercepts near their final values).
    """
    blocks = []
    for model in sorted(models.unique()):
        items = np.flatnonzero((models == model).to_numpy())
        family = MODEL_FAMILIES[model]
        n_cat = max_score[items] + 1
        if model not in POLYTOMOUS and np.any(n_cat > 2):
            raise CalibrationSpecError(
                f"model {model} is dichotomous but item(s) at positions {items[n_cat > 2][:5].tolist()} "
                "score above 1; use GRM or GPCM for them",
                field="model",
            )
        if np.any(n_cat < 2):
            raise CalibrationSpecError(
                f"item(s) at positions {items[n_cat < 2][:5].tolist()} have a single observed score; "
                "they carry no information for IRT",
                field="score",
            )
        width = int(n_cat.max())
        params = np.full((len(items), family.n_params(width)), np.nan)
        params[:, 0] = 1.0
        free = np.zeros(params.shape, dtype=bool)
        if model in POLYTOMOUS:
            k = np.arange(1, width)[None, :]
            spread = (k - n_cat[:, None] / 2.0) / np.maximum(n_cat[:, None] - 1, 1)
            grm_start = start[items, None] - 2.0 * spread
            values = grm_start if model == "GRM" else k * start[items, None]
            params[:, 1:] = np.where(k < n_cat[:, None], values, np.nan)
            free[:, 1:] = k < n_cat[:, None]
        else:
            params[:, 1] = start[items]
            params[:, 2] = np.log(0.2 / 0.8) if model == "3PL" else -np.inf
            free[:, 1] = True
            free[:, 2] = model == "3PL"
        free[:, 0] = model != "Rasch"
        blocks.append(ItemBlock(model=model, items=items, params=params, free=free, n_categories=n_cat))
    if fixed is not None:
        _apply_fixed(blocks, fixed)
    return blocks


def _apply_fixed(blocks: list[ItemBlock], fixed: pd.DataFrame) -> None:
    """Copy the given (bank-form) parameters into their rows and freeze them."""
    for block in blocks:
        rows = fixed.loc[fixed["position"].isin(block.items)]
        if rows.empty:
            continue
        local = np.searchsorted(block.items, rows["position"].to_numpy())
        width = block.params.shape[1] - 1 if block.model in POLYTOMOUS else 0
        thresholds = np.full((len(rows), width), np.nan)
        for r, values in enumerate(rows["thresholds"]):
            if width and values is not None and len(values):
                values = np.asarray(values, dtype=float)[:width]
                thresholds[r, : len(values)] = values
        short = np.any(np.isnan(thresholds) & block.category_mask[local][:, 1:], axis=1)
        if width and short.any():
            raise CalibrationSpecError(
                f"fixed {block.model} item(s) need one threshold per score step: "
                f"{', '.join(map(str, rows['item_id'][short].iloc[:5]))} have too few",
                field="fixed.thresholds",
            )
        a = rows["a"].to_numpy(dtype=float)
        b = rows["b"].to_numpy(dtype=float)
        c = np.nan_to_num(rows["c"].to_numpy(dtype=float), nan=0.0)
        block.params[local] = block.family.from_reported(a, b, c, thresholds)
        block.free[local] = False
