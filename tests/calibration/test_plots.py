"""Plots draw the curves the IRT formulas give, on the Axes they are handed."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from calibration import irt  # noqa: E402
from calibration.errors import CalibrationSpecError  # noqa: E402
from calibration.plots import THETA_RANGE, plot_icc, plot_tif  # noqa: E402

ITEMS = pd.DataFrame(
    {
        "item_id": ["A", "B", "C", "D"],
        "a": [1.0, 1.5, 0.8, 2.0],
        "b": [-1.0, 0.0, 0.5, 1.0],
        "c": [0.0, 0.2, 0.1, 0.25],
        "paper_id": ["P1", "P1", "P2", "P2"],
    }
)


def _ydata(line: Line2D) -> np.ndarray:
    return np.asarray(line.get_ydata(), dtype=float)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def test_icc_curves_match_the_3pl() -> None:
    ax = plot_icc(ITEMS, ["D", "B"])
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["D", "B"]
    expected = irt.prob_3pl(THETA_RANGE, [2.0, 1.5], [1.0, 0.0], [0.25, 0.2])
    for column, line in enumerate(lines):
        np.testing.assert_allclose(_ydata(line), expected[:, column], atol=1e-12)


def test_tif_per_paper_on_given_axes() -> None:
    _, given = plt.subplots()
    ax = plot_tif(ITEMS, groups="paper_id", ax=given)
    assert ax is given
    lines = {line.get_label(): _ydata(line) for line in ax.get_lines()}
    assert set(lines) == {"P1", "P2"}
    p2 = irt.test_information(THETA_RANGE, [0.8, 2.0], [0.5, 1.0], [0.1, 0.25])
    np.testing.assert_allclose(lines["P2"], p2, atol=1e-12)
    whole = plot_tif(ITEMS.drop(columns="paper_id")).get_lines()
    assert len(whole) == 1
    np.testing.assert_allclose(_ydata(whole[0]), lines["P1"] + lines["P2"], atol=1e-12)
    by_mapping = plot_tif(ITEMS, groups={"A": "x", "C": "x"}).get_lines()
    assert [line.get_label() for line in by_mapping] == ["x"]


def test_unknown_items_or_columns_are_named() -> None:
    with pytest.raises(CalibrationSpecError, match="Z"):
        plot_icc(ITEMS, ["A", "Z"])
    with pytest.raises(CalibrationSpecError, match="form"):
        plot_tif(ITEMS, groups="form")
