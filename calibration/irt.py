"""Item response functions and information, vectorised over items and ability points.

One home for the IRT formulas that estimation, scoring, fit, linking and plots all use, so a
parameterisation change (the logistic scale, how thresholds are stored) happens in one place.
Dichotomous items use the 3PL form ``c + (1 - c) / (1 + exp(-a (theta - b)))`` on the logistic
metric (no 1.7 scaling constant); 1PL/2PL are the special cases c = 0 (and a common a).
Polytomous items (GRM, GPCM) take a ``(n_items, n_categories - 1)`` threshold matrix padded with
NaN where an item has fewer categories.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

_EXP_CLIP = 35.0


def logistic(x: ArrayLike) -> FloatArray:
    """Numerically safe logistic function."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=float), -_EXP_CLIP, _EXP_CLIP)))


def prob_3pl(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike | float = 0.0) -> FloatArray:
    """P(correct) for each ability point (rows) and item (columns)."""
    th = np.asarray(theta, dtype=float).reshape(-1, 1)
    a_ = np.asarray(a, dtype=float).reshape(1, -1)
    b_ = np.asarray(b, dtype=float).reshape(1, -1)
    c_ = np.broadcast_to(np.asarray(c, dtype=float), a_.shape[1:]).reshape(1, -1)
    return c_ + (1.0 - c_) * logistic(a_ * (th - b_))


def info_3pl(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike | float = 0.0) -> FloatArray:
    """Fisher information of each item (columns) at each ability point (rows)."""
    a_ = np.asarray(a, dtype=float).reshape(1, -1)
    c_ = np.broadcast_to(np.asarray(c, dtype=float), a_.shape[1:]).reshape(1, -1)
    p = prob_3pl(theta, a, b, c)
    q = 1.0 - p
    return (a_**2) * (q / p) * ((p - c_) / (1.0 - c_)) ** 2


def prob_grm(theta: ArrayLike, a: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Graded response model category probabilities, shape (n_theta, n_items, n_categories).

    ``thresholds`` are the ordered boundaries b_1 < ... < b_{m-1}; NaN pads unused categories,
    whose probability is zero.
    """
    th = np.asarray(theta, dtype=float).reshape(-1, 1, 1)
    a_ = np.asarray(a, dtype=float).reshape(1, -1, 1)
    bt = np.atleast_2d(np.asarray(thresholds, dtype=float))[None, :, :]
    star = logistic(a_ * (th - bt))
    star = np.where(np.isnan(bt), 0.0, star)
    n_theta, n_items = th.shape[0], a_.shape[1]
    upper = np.concatenate([np.ones((n_theta, n_items, 1)), star], axis=2)
    lower = np.concatenate([star, np.zeros((n_theta, n_items, 1))], axis=2)
    return np.clip(upper - lower, 0.0, 1.0)


def prob_gpcm(theta: ArrayLike, a: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Generalized partial credit category probabilities, shape (n_theta, n_items, n_categories).

    ``thresholds`` are the step parameters d_1..d_{m-1}; NaN pads unused categories.
    """
    th = np.asarray(theta, dtype=float).reshape(-1, 1, 1)
    a_ = np.asarray(a, dtype=float).reshape(1, -1, 1)
    d = np.atleast_2d(np.asarray(thresholds, dtype=float))[None, :, :]
    steps = a_ * (th - d)
    valid = ~np.isnan(d)
    steps = np.where(valid, steps, 0.0)
    z = np.concatenate([np.zeros(steps.shape[:2] + (1,)), np.cumsum(steps, axis=2)], axis=2)
    mask = np.concatenate([np.ones(valid.shape[:2] + (1,), dtype=bool), valid], axis=2)
    mask = np.broadcast_to(mask, z.shape)
    z = np.where(mask, z, -np.inf)
    z = z - z.max(axis=2, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=2, keepdims=True)


def expected_score_poly(probs: FloatArray) -> FloatArray:
    """Expected item score from category probabilities (last axis = categories 0..m-1)."""
    return (probs * np.arange(probs.shape[-1])).sum(axis=-1)


def test_information(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike | float = 0.0) -> FloatArray:
    """Test information function: the sum of item information at each ability point."""
    return info_3pl(theta, a, b, c).sum(axis=1)


def test_characteristic(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike | float = 0.0) -> FloatArray:
    """Test characteristic curve: the expected number-correct score at each ability point."""
    return prob_3pl(theta, a, b, c).sum(axis=1)
