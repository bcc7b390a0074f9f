"""Simulated response data with known truth, shared by tests, benchmarks and the demo.

Everything random takes an explicit ``numpy.random.Generator`` so a seed reproduces a data set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.irt import prob_3pl


def simulate_dichotomous(
    theta: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dense 0/1 response matrix (persons × items) drawn from the 3PL with the given truth."""
    p = prob_3pl(theta, a, b, c)
    return (rng.random(p.shape) < p).astype(np.int8)


def to_long(
    matrix: np.ndarray,
    person_ids: list[str] | np.ndarray,
    item_ids: list[str] | np.ndarray,
    seen: np.ndarray | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Long-format response log (person_id, item_id, score) from a matrix; ``seen`` masks unseen cells.

    ``extra`` maps column names to per-person arrays (e.g. ``group`` or ``paper_id``).
    """
    mask = np.ones(matrix.shape, dtype=bool) if seen is None else np.asarray(seen, dtype=bool)
    rows, cols = np.nonzero(mask)
    frame = pd.DataFrame(
        {
            "person_id": np.asarray(person_ids)[rows],
            "item_id": np.asarray(item_ids)[cols],
            "score": matrix[rows, cols],
        }
    )
    for name, per_person in (extra or {}).items():
        frame[name] = np.asarray(per_person)[rows]
    return frame
