"""Linking a separate calibration onto the bank scale through common (anchor) items.

A separate calibration fixes its own origin and unit, so its estimates equal the bank's only up
to ``theta_bank = A * theta_new + B``. Given the common items' 3PL parameters on both scales this
module finds the slope A and intercept B by four methods and ``transform`` applies them:
``a / A``, ``A * b + B`` (also every threshold), ``c`` unchanged.

- mean/mean and mean/sigma use only moments of the a and b estimates: quick, but sensitive to
  a single badly estimated anchor;
- Haebara and Stocking–Lord match item and test characteristic curves over an ability grid
  (bank scale, standard-normal weights by default), so items are weighted where examinees are;
  they start from mean/sigma and are minimised with L-BFGS-B.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from calibration.errors import CalibrationSpecError
from calibration.irt import FloatArray, prob_3pl
from calibration.quadrature import Quadrature

LinkingMethod = Literal["mean_mean", "mean_sigma", "haebara", "stocking_lord"]

_THRESHOLD_COLUMN = re.compile(r"^(b|d|threshold|step)_?\d+$")


@dataclass(frozen=True)
class LinkingResult:
    """Slope A and intercept B with ``theta_bank = A * theta_new + B``, and how they were found."""

    method: str
    slope: float
    intercept: float
    n_common: int
    loss: float
    converged: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def item_table(params: pd.DataFrame, required: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    """Parameters indexed by item id (from an ``item_id`` column or the index), ``c`` defaulting to 0."""
    table = params.set_index("item_id") if "item_id" in params.columns else params
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise CalibrationSpecError(
            f"the item-parameter table lacks column {missing[0]!r}", field=missing[0]
        )
    if "c" not in table.columns:
        table = table.assign(c=0.0)
    return table


def common_items(new: pd.DataFrame, bank: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The anchor items' rows on both scales, aligned by item id."""
    new_table, bank_table = item_table(new), item_table(bank)
    shared = new_table.index.intersection(bank_table.index)
    if len(shared) < 2:
        raise CalibrationSpecError(
            f"linking needs at least 2 common items (matched on item_id), found {len(shared)}",
            field="item_id",
        )
    return new_table.loc[shared], bank_table.loc[shared]


def ability_grid(
    theta: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    *,
    n_points: int = 41,
    bound: float = 4.0,
) -> tuple[FloatArray, FloatArray]:
    """Ability points and normalised weights: the caller's, or a standard-normal grid.

    Given points without weights are weighted equally.
    """
    if theta is None:
        grid = Quadrature.rectangular(n_points, bound)
        return grid.z, grid.weights
    points = np.asarray(theta, dtype=float)
    mass = np.ones(points.size) if weights is None else np.asarray(weights, dtype=float)
    return points, mass / mass.sum()


def mean_mean(new: pd.DataFrame, bank: pd.DataFrame) -> LinkingResult:
    """A from the ratio of mean discriminations, B from the mean difficulties."""
    n, k = common_items(new, bank)
    slope = float(n["a"].mean() / k["a"].mean())
    return _moment_result("mean_mean", slope, n, k)


def mean_sigma(new: pd.DataFrame, bank: pd.DataFrame) -> LinkingResult:
    """A from the ratio of difficulty standard deviations, B from the mean difficulties."""
    return _mean_sigma(*common_items(new, bank))


def _mean_sigma(n: pd.DataFrame, k: pd.DataFrame) -> LinkingResult:
    slope = float(k["b"].std(ddof=0) / n["b"].std(ddof=0))
    return _moment_result("mean_sigma", slope, n, k)


def _moment_result(method: str, slope: float, n: pd.DataFrame, k: pd.DataFrame) -> LinkingResult:
    intercept = float(k["b"].mean() - slope * n["b"].mean())
    return LinkingResult(method, slope, intercept, len(n), float("nan"), True)


def _curve_loss(
    n: pd.DataFrame, k: pd.DataFrame, theta: FloatArray, weights: FloatArray, per_item: bool
) -> Callable[[FloatArray], float]:
    target = prob_3pl(theta, k["a"], k["b"], k["c"])
    a, b, c = (n[column].to_numpy(dtype=float) for column in ("a", "b", "c"))
    target_tcc = target.sum(axis=1)

    def loss(x: FloatArray) -> float:
        slope, intercept = x
        moved = prob_3pl(theta, a / slope, slope * b + intercept, c)
        if per_item:
            return float(weights @ ((target - moved) ** 2).sum(axis=1))
        return float(weights @ (target_tcc - moved.sum(axis=1)) ** 2)

    return loss


def _characteristic_curve(
    method: str,
    new: pd.DataFrame,
    bank: pd.DataFrame,
    theta: ArrayLike | None,
    weights: ArrayLike | None,
) -> LinkingResult:
    n, k = common_items(new, bank)
    grid, grid_weights = ability_grid(theta, weights)
    start = _mean_sigma(n, k)
    loss = _curve_loss(n, k, grid, grid_weights, per_item=method == "haebara")
    fitted = minimize(
        loss,
        x0=np.array([start.slope, start.intercept]),
        method="L-BFGS-B",
        bounds=[(1e-3, None), (None, None)],
        options={"ftol": 1e-14, "gtol": 1e-10},
    )
    slope, intercept = fitted.x
    return LinkingResult(
        method, float(slope), float(intercept), len(n), float(fitted.fun), bool(fitted.success)
    )


def haebara(
    new: pd.DataFrame,
    bank: pd.DataFrame,
    *,
    theta: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> LinkingResult:
    """Minimise the weighted squared gaps between each anchor's two item characteristic curves."""
    return _characteristic_curve("haebara", new, bank, theta, weights)


def stocking_lord(
    new: pd.DataFrame,
    bank: pd.DataFrame,
    *,
    theta: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> LinkingResult:
    """Minimise the weighted squared gap between the anchors' two test characteristic curves."""
    return _characteristic_curve("stocking_lord", new, bank, theta, weights)


def link(
    new: pd.DataFrame, bank: pd.DataFrame, method: LinkingMethod = "stocking_lord"
) -> LinkingResult:
    """Linking constants by the named method (Stocking–Lord by default: the most robust in practice)."""
    methods: dict[str, Callable[[pd.DataFrame, pd.DataFrame], LinkingResult]] = {
        "mean_mean": mean_mean,
        "mean_sigma": mean_sigma,
        "haebara": haebara,
        "stocking_lord": stocking_lord,
    }
    if method not in methods:
        raise CalibrationSpecError(
            f"unknown linking method {method!r}; use one of {sorted(methods)}", field="method"
        )
    return methods[method](new, bank)


def transform(params: pd.DataFrame, slope: float, intercept: float) -> pd.DataFrame:
    """A parameter table put on the bank scale: a / A, A * b + B, thresholds likewise, c kept.

    Thresholds may be separate columns (``b1``, ``d_2``, ...) or one ``thresholds`` column of
    sequences, as the bank stores them. Standard errors follow the same linear map (``se_a / A``,
    ``A * se_b``); a ``theta`` column, if any, moves as abilities do.
    """
    if slope <= 0:
        raise CalibrationSpecError("the linking slope A must be positive", field="slope")
    moved = params.copy()
    location = [
        column
        for column in moved.columns
        if column == "b" or column == "theta" or _THRESHOLD_COLUMN.match(column)
    ]
    for column in location:
        moved[column] = slope * moved[column] + intercept
        if f"se_{column}" in moved.columns:
            moved[f"se_{column}"] = slope * moved[f"se_{column}"]
    if "thresholds" in moved.columns:
        moved["thresholds"] = [
            [slope * float(step) + intercept for step in steps]
            if isinstance(steps, list | tuple | np.ndarray)
            else steps
            for steps in moved["thresholds"]
        ]
    if "a" in moved.columns:
        moved["a"] = moved["a"] / slope
    if "se_a" in moved.columns:
        moved["se_a"] = moved["se_a"] / slope
    return moved
