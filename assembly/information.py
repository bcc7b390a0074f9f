"""3PL item information and expected score on the logistic metric (no 1.7 scaling constant).

Vectorised over items x θ points; uncalibrated items (NaN parameters) contribute zero, so they can
fill a paper but never count towards its information.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _parameters(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike) -> tuple[FloatArray, ...]:
    a_, b_, c_ = (np.asarray(v, dtype=float)[:, None] for v in (a, b, c))
    c_ = np.where(np.isnan(c_), 0.0, c_)
    return a_, b_, c_


def probability(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, theta: npt.ArrayLike) -> FloatArray:
    """P(correct | θ) per item (rows) and θ (columns); NaN where a or b is missing."""
    a_, b_, c_ = _parameters(a, b, c)
    t = np.asarray(theta, dtype=float)[None, :]
    return c_ + (1.0 - c_) / (1.0 + np.exp(-a_ * (t - b_)))


def item_information(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, theta: npt.ArrayLike) -> FloatArray:
    """Fisher information I(θ) = a² (P−c)² (1−P) / ((1−c)² P); 0 for uncalibrated items."""
    a_, _, c_ = _parameters(a, b, c)
    p = probability(a, b, c, theta)
    info = a_**2 * (p - c_) ** 2 * (1.0 - p) / ((1.0 - c_) ** 2 * p)
    return np.nan_to_num(info, nan=0.0)


def expected_score(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, theta: npt.ArrayLike,
                   points: npt.ArrayLike) -> FloatArray:
    """Expected points per item and θ (the summands of the test characteristic curve)."""
    p = np.nan_to_num(probability(a, b, c, theta), nan=0.0)
    return p * np.asarray(points, dtype=float)[:, None]
