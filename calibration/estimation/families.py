"""Item model families in slope–intercept form, with the derivatives estimation needs.

Estimation works in slope–intercept coordinates (``a θ + s``) because the log-likelihood is
better conditioned there than in the difficulty form ``a (θ − b)`` and a zero slope is harmless;
results are reported in the bank's form (a, b, c, thresholds) that ``calibration.irt`` uses.
Every family gives category probabilities ``(..., K)`` and their Jacobian ``(..., K, n_params)``
for any broadcastable ``theta`` and parameter rows, so the same code serves the grid (nodes ×
items) in the M-step and the pairs (person, item) in scoring.

Parameter rows: dichotomous ``[a, d, γ]`` with c = logistic(γ) (γ = −inf means no guessing);
GRM ``[a, s_1 > … > s_{K−1}]``; GPCM ``[a, s_1, …, s_{K−1}]`` with ``z_k = k a θ + s_k``.
Unused categories of shorter items are NaN-padded intercepts and get probability zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from calibration.irt import FloatArray


@dataclass(frozen=True)
class ReportedItem:
    """Item parameters in the bank's parameterisation, one row per item."""

    a: FloatArray
    b: FloatArray
    c: FloatArray
    thresholds: FloatArray  # (n_items, K-1), NaN-padded; empty columns for dichotomous items


class Dichotomous:
    """1PL/2PL/3PL: P(1) = c + (1 − c) logistic(a θ + d)."""

    name = "dichotomous"

    @staticmethod
    def n_params(n_categories: int) -> int:
        return 3

    @staticmethod
    def probs(theta: FloatArray, params: FloatArray) -> FloatArray:
        a, d, c = params[..., 0], params[..., 1], expit(params[..., 2])
        p1 = c + (1.0 - c) * expit(a * theta + d)
        return np.stack([1.0 - p1, p1], axis=-1)

    @staticmethod
    def success(theta: FloatArray, params: FloatArray) -> tuple[FloatArray, FloatArray]:
        """P(1) and its gradient (..., 3); P(0) and its gradient are their complements."""
        a, d, c = params[..., 0], params[..., 1], expit(params[..., 2])
        ell = expit(a * theta + d)
        w = (1.0 - c) * ell * (1.0 - ell)
        theta_b = np.broadcast_to(theta, w.shape)
        dp1 = np.stack([w * theta_b, w, c * (1.0 - c) * (1.0 - ell)], axis=-1)
        return c + (1.0 - c) * ell, dp1

    @staticmethod
    def jacobian(theta: FloatArray, params: FloatArray) -> FloatArray:
        dp1 = Dichotomous.success(theta, params)[1]
        return np.stack([-dp1, dp1], axis=-2)

    @staticmethod
    def theta_derivative(theta: FloatArray, params: FloatArray) -> FloatArray:
        a, d, c = params[..., 0], params[..., 1], expit(params[..., 2])
        ell = expit(a * theta + d)
        dp1 = a * (1.0 - c) * ell * (1.0 - ell)
        return np.stack([-dp1, dp1], axis=-1)

    @staticmethod
    def report(params: FloatArray) -> ReportedItem:
        a = params[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            b = -params[:, 1] / a
        return ReportedItem(a=a, b=b, c=expit(params[:, 2]), thresholds=np.empty((len(a), 0)))

    @staticmethod
    def from_reported(a: FloatArray, b: FloatArray, c: FloatArray, thresholds: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            gamma = np.where(c > 0, logit(np.clip(c, 1e-12, 1 - 1e-12)), -np.inf)
        return np.column_stack([a, -a * b, gamma])


class Graded:
    """Samejima's graded response model: P(X ≥ k) = logistic(a θ + s_k), s decreasing in k."""

    name = "GRM"

    @staticmethod
    def n_params(n_categories: int) -> int:
        return n_categories

    @staticmethod
    def _boundaries(theta: FloatArray, params: FloatArray) -> FloatArray:
        a, s = params[..., :1], params[..., 1:]
        star = expit(a * np.expand_dims(theta, -1) + s)
        return np.where(np.isnan(s), 0.0, star)

    @staticmethod
    def _pad(star: FloatArray) -> tuple[FloatArray, FloatArray]:
        ones, zeros = np.ones(star.shape[:-1] + (1,)), np.zeros(star.shape[:-1] + (1,))
        return np.concatenate([ones, star], axis=-1), np.concatenate([star, zeros], axis=-1)

    @classmethod
    def probs(cls, theta: FloatArray, params: FloatArray) -> FloatArray:
        upper, lower = cls._pad(cls._boundaries(theta, params))
        return np.clip(upper - lower, 0.0, 1.0)

    @classmethod
    def jacobian(cls, theta: FloatArray, params: FloatArray) -> FloatArray:
        star = cls._boundaries(theta, params)
        w = star * (1.0 - star)
        w_upper, w_lower = cls._pad(w)
        w_upper[..., 0] = 0.0
        n_cat = star.shape[-1] + 1
        steps = np.zeros((n_cat, n_cat - 1))
        steps[np.arange(1, n_cat), np.arange(n_cat - 1)] = 1.0
        steps[np.arange(n_cat - 1), np.arange(n_cat - 1)] = -1.0
        d_slope = (w_upper - w_lower) * np.expand_dims(theta, -1)
        d_intercepts = np.expand_dims(w, -2) * steps
        return np.concatenate([d_slope[..., None], d_intercepts], axis=-1)

    @classmethod
    def theta_derivative(cls, theta: FloatArray, params: FloatArray) -> FloatArray:
        star = cls._boundaries(theta, params)
        w_upper, w_lower = cls._pad(star * (1.0 - star))
        w_upper[..., 0] = 0.0
        return params[..., :1] * (w_upper - w_lower)

    @staticmethod
    def report(params: FloatArray) -> ReportedItem:
        a = params[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            thresholds = -params[:, 1:] / a[:, None]
            b = np.nanmean(thresholds, axis=1)
        return ReportedItem(a=a, b=b, c=np.zeros_like(a), thresholds=thresholds)

    @staticmethod
    def from_reported(a: FloatArray, b: FloatArray, c: FloatArray, thresholds: FloatArray) -> FloatArray:
        return np.column_stack([a, -a[:, None] * thresholds])


class PartialCredit:
    """Generalized partial credit: P(k) ∝ exp(k a θ + s_k) with s_0 = 0."""

    name = "GPCM"

    @staticmethod
    def n_params(n_categories: int) -> int:
        return n_categories

    @staticmethod
    def probs(theta: FloatArray, params: FloatArray) -> FloatArray:
        a, s = params[..., :1], params[..., 1:]
        n_cat = s.shape[-1] + 1
        k = np.arange(n_cat)
        z = k * (a * np.expand_dims(theta, -1))
        z[..., 1:] += s
        z = np.where(np.isnan(z), -np.inf, z)
        z -= z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    @classmethod
    def jacobian(cls, theta: FloatArray, params: FloatArray) -> FloatArray:
        p = cls.probs(theta, params)
        k = np.arange(p.shape[-1])
        centred = k - (p * k).sum(axis=-1, keepdims=True)
        d_slope = p * centred * np.expand_dims(theta, -1)
        d_intercepts = p[..., :, None] * (np.eye(p.shape[-1])[:, 1:] - p[..., None, 1:])
        return np.concatenate([d_slope[..., None], d_intercepts], axis=-1)

    @classmethod
    def theta_derivative(cls, theta: FloatArray, params: FloatArray) -> FloatArray:
        p = cls.probs(theta, params)
        k = np.arange(p.shape[-1])
        return params[..., :1] * p * (k - (p * k).sum(axis=-1, keepdims=True))

    @staticmethod
    def report(params: FloatArray) -> ReportedItem:
        a = params[:, 0]
        s = np.column_stack([np.zeros(len(a)), params[:, 1:]])
        with np.errstate(divide="ignore", invalid="ignore"):
            thresholds = -np.diff(s, axis=1) / a[:, None]
            b = np.nanmean(thresholds, axis=1)
        return ReportedItem(a=a, b=b, c=np.zeros_like(a), thresholds=thresholds)

    @staticmethod
    def from_reported(a: FloatArray, b: FloatArray, c: FloatArray, thresholds: FloatArray) -> FloatArray:
        return np.column_stack([a, -a[:, None] * np.cumsum(thresholds, axis=1)])


Family = type[Dichotomous] | type[Graded] | type[PartialCredit]

MODEL_FAMILIES: dict[str, Family] = {
    "Rasch": Dichotomous,
    "1PL": Dichotomous,
    "2PL": Dichotomous,
    "3PL": Dichotomous,
    "GRM": Graded,
    "GPCM": PartialCredit,
}
POLYTOMOUS = frozenset({"GRM", "GPCM"})
