"""Simulated logs with known truth and the error measure the recovery tests use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.simulate import simulate_dichotomous, to_long


@dataclass(frozen=True)
class DenseLog:
    responses: pd.DataFrame
    theta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray


def dense_log(n_persons: int, n_items: int, seed: int, *, guessing: bool = False) -> DenseLog:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_persons)
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(0.0, 1.0, n_items)
    c = rng.uniform(0.1, 0.25, n_items) if guessing else np.zeros(n_items)
    matrix = simulate_dichotomous(theta, a, b, c, rng)
    frame = to_long(matrix, [f"P{i:06d}" for i in range(n_persons)], [f"I{j:04d}" for j in range(n_items)])
    return DenseLog(frame, theta, a, b, c)


def rmse(estimate: np.ndarray | pd.Series, truth: np.ndarray | pd.Series) -> float:
    return float(np.sqrt(np.mean((np.asarray(estimate, dtype=float) - np.asarray(truth, dtype=float)) ** 2)))
