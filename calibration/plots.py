"""Item characteristic and test information curves for calibration reports.

matplotlib is an optional extra (``pip install itembank[plot]``), so it is imported only when a
plot is drawn; the rest of the package works without it. Each function draws on the given Axes
(or a new one) and returns it, so callers can compose figures.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from calibration.errors import CalibrationSpecError
from calibration.irt import prob_3pl, test_information
from calibration.linking import item_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

THETA_RANGE = np.linspace(-4.0, 4.0, 161)


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'itembank[plot]'") from exc
    return plt.subplots()[1]


def plot_icc(
    items: pd.DataFrame,
    item_ids: Iterable[Hashable],
    ax: Axes | None = None,
    *,
    theta: ArrayLike = THETA_RANGE,
) -> Axes:
    """One item characteristic curve (3PL) per requested item, labelled by item id."""
    table = item_table(items)
    wanted = list(item_ids)
    unknown = [item for item in wanted if item not in table.index]
    if unknown:
        raise CalibrationSpecError(f"no parameters for item(s) {unknown}", field="item_ids")
    chosen = table.loc[wanted]
    grid = np.asarray(theta, dtype=float)
    curves = prob_3pl(grid, chosen["a"], chosen["b"], chosen["c"])
    ax = _axes(ax)
    for column, item in enumerate(wanted):
        ax.plot(grid, curves[:, column], label=str(item))
    ax.set(
        xlabel="ability (θ)",
        ylabel="P(correct)",
        ylim=(0.0, 1.0),
        title="Item characteristic curves",
    )
    ax.legend()
    return ax


def plot_tif(
    items: pd.DataFrame,
    groups: str | Mapping[Hashable, Hashable] | None = None,
    ax: Axes | None = None,
    *,
    theta: ArrayLike = THETA_RANGE,
) -> Axes:
    """Test information curves: one for all items, or one per group (e.g. per paper).

    ``groups`` is a column of ``items`` (such as ``paper_id``) or a mapping item id -> group;
    items without a group are left out. Parallel papers should show near-identical curves.
    """
    table = item_table(items)
    grid = np.asarray(theta, dtype=float)
    if groups is None:
        labels = pd.Series("all items", index=table.index)
    elif isinstance(groups, str):
        if groups not in table.columns:
            raise CalibrationSpecError(
                f"the item table has no grouping column {groups!r}", field=groups
            )
        labels = table[groups]
    else:
        labels = pd.Series(groups).reindex(table.index)
    ax = _axes(ax)
    for label, members in table.groupby(labels.to_numpy(), sort=True):
        information = test_information(grid, members["a"], members["b"], members["c"])
        ax.plot(grid, information, label=str(label))
    ax.set(xlabel="ability (θ)", ylabel="information", title="Test information")
    ax.legend()
    return ax
