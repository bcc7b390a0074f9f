"""IRT calibration benchmarks: ours against girth and the Rust-backed PyPI ``mirt``, on the same data.

Run: ``.venv/bin/python -m pytest benchmarks/calibration -m bench -p no:xdist -s --benchmark-group-by=group``

Each group times one fit per library (rounds=1: the fits take seconds to minutes) and records the
RMSE against the generating truth in ``extra_info``, so speed is only compared at stated accuracy.
Data preparation (reading the log, pivoting to the dense matrix the peers need) is outside the
timing. Ours computes cross-product standard errors and EAP scores inside the timing; mirt is
asked for standard errors too; girth computes none. girth's 3PL does not run under numpy ≥ 2.4
("setting an array element with a sequence"), so the 3PL group compares ours with mirt only.
girth on the full sparse design takes ~400 s, so it runs on a 10,000-person subset (labelled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import girth
import mirt
import numpy as np
import pandas as pd
import pytest

from calibration import ResponseMatrix, calibrate, load_responses
from calibration.simulate import simulate_paper_design
from tests.calibration.truth import dense_log, rmse

pytestmark = pytest.mark.bench

QUADRATURE_POINTS = 61


@dataclass(frozen=True)
class Problem:
    """One benchmark data set in both shapes: our sparse matrix and the peers' dense array."""

    matrix: ResponseMatrix
    dense: np.ndarray  # persons × items, -1 where unseen
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    groups: np.ndarray


def _problem(responses: pd.DataFrame, items: pd.DataFrame) -> Problem:
    matrix = load_responses(responses)
    wide = responses.pivot(index="person_id", columns="item_id", values="score").reindex(
        index=matrix.person_ids, columns=matrix.item_ids
    )
    truth = items.set_index("item_id").loc[matrix.item_ids]
    return Problem(
        matrix=matrix,
        dense=wide.fillna(-1).to_numpy(dtype=int),
        a=truth["a"].to_numpy(),
        b=truth["b"].to_numpy(),
        c=truth["c"].to_numpy(),
        groups=matrix.group,
    )


def _dense_problem(n_persons: int, n_items: int, seed: int, guessing: bool) -> Problem:
    log = dense_log(n_persons, n_items, seed, guessing=guessing)
    items = pd.DataFrame({"item_id": [f"I{j:04d}" for j in range(n_items)], "a": log.a, "b": log.b, "c": log.c})
    return _problem(log.responses, items)


@pytest.fixture(scope="module")
def dense_2pl() -> Problem:
    return _dense_problem(10_000, 100, seed=11, guessing=False)


@pytest.fixture(scope="module")
def dense_3pl() -> Problem:
    return _dense_problem(10_000, 60, seed=12, guessing=True)


@pytest.fixture(scope="module")
def sparse_2pl() -> Problem:
    design = simulate_paper_design(40_000, np.random.default_rng(7))
    items, _ = design.on_reference_scale()
    return _problem(design.responses, items)


Estimates = tuple[np.ndarray, np.ndarray]


def _run(benchmark, fit: Callable[[], Estimates], problem: Problem, label: str,
         truth_rows: np.ndarray | None = None) -> None:
    a, b = benchmark.pedantic(fit, rounds=1, iterations=1)
    rows = slice(None) if truth_rows is None else truth_rows
    benchmark.extra_info.update({
        "library": label,
        "rmse_a": round(rmse(a, problem.a[rows]), 4),
        "rmse_b": round(rmse(b, problem.b[rows]), 4),
        "rmse_b_shift_removed": round(rmse(b - np.mean(b), problem.b[rows] - np.mean(problem.b[rows])), 4),
        "persons": int(problem.dense.shape[0]),
        "items": int(problem.dense.shape[1]),
    })
    info = benchmark.extra_info
    print(f"\n{benchmark.group} | {label}: {benchmark.stats.stats.max:.2f} s, rmse a {info['rmse_a']}, "
          f"b {info['rmse_b']} (shift removed {info['rmse_b_shift_removed']})")


def _ours(problem: Problem, model: str) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        result = calibrate(problem.matrix, model, config={"quadrature_points": QUADRATURE_POINTS})
        return result.items["a"].to_numpy(), result.items["b"].to_numpy()
    return fit


def _mirt(problem: Problem, model: str) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        result = mirt.fit_mirt(problem.dense, model, n_quadpts=QUADRATURE_POINTS)
        return result.model.parameters["discrimination"], result.model.parameters["difficulty"]
    return fit


def _mirt_groups(problem: Problem) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        result = mirt.fit_multigroup(problem.dense, problem.groups, "2PL", invariance="scalar",
                                     n_quadpts=QUADRATURE_POINTS)
        table = result.coef()
        first = table[table["group"] == table["group"].iloc[0]]
        return first["discrimination"].to_numpy(), first["difficulty"].to_numpy()
    return fit


def _girth(dense: np.ndarray) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        data = np.where(dense < 0, girth.INVALID_RESPONSE, dense).T
        result = girth.twopl_mml(data)
        return result["Discrimination"], result["Difficulty"]
    return fit


DENSE_2PL = "2PL dense 10,000 x 100"
DENSE_3PL = "3PL dense 10,000 x 60"
SPARSE_2PL = "2PL sparse 40,000 x 340, 8 papers/groups"


@pytest.mark.benchmark(group=DENSE_2PL)
def test_dense_2pl_ours(benchmark, dense_2pl: Problem) -> None:
    _run(benchmark, _ours(dense_2pl, "2PL"), dense_2pl, "itembank calibration (SE + EAP)")


@pytest.mark.benchmark(group=DENSE_2PL)
def test_dense_2pl_mirt(benchmark, dense_2pl: Problem) -> None:
    _run(benchmark, _mirt(dense_2pl, "2PL"), dense_2pl, "mirt (Rust, SE)")


@pytest.mark.benchmark(group=DENSE_2PL)
def test_dense_2pl_girth(benchmark, dense_2pl: Problem) -> None:
    _run(benchmark, _girth(dense_2pl.dense), dense_2pl, "girth (no SE)")


@pytest.mark.benchmark(group=DENSE_3PL)
def test_dense_3pl_ours(benchmark, dense_3pl: Problem) -> None:
    _run(benchmark, _ours(dense_3pl, "3PL"), dense_3pl, "itembank calibration (SE + EAP)")


@pytest.mark.benchmark(group=DENSE_3PL)
def test_dense_3pl_mirt(benchmark, dense_3pl: Problem) -> None:
    _run(benchmark, _mirt(dense_3pl, "3PL"), dense_3pl, "mirt (Rust, SE)")


@pytest.mark.benchmark(group=SPARSE_2PL)
def test_sparse_2pl_ours(benchmark, sparse_2pl: Problem) -> None:
    _run(benchmark, _ours(sparse_2pl, "2PL"), sparse_2pl, "itembank calibration, 8 groups (SE + EAP)")


@pytest.mark.benchmark(group=SPARSE_2PL)
def test_sparse_2pl_mirt(benchmark, sparse_2pl: Problem) -> None:
    _run(benchmark, _mirt(sparse_2pl, "2PL"), sparse_2pl, "mirt (Rust, one group, SE)")


@pytest.mark.benchmark(group=SPARSE_2PL)
def test_sparse_2pl_mirt_groups(benchmark, sparse_2pl: Problem) -> None:
    _run(benchmark, _mirt_groups(sparse_2pl), sparse_2pl, "mirt (Rust) fit_multigroup, scalar invariance")


@pytest.mark.benchmark(group=SPARSE_2PL)
def test_sparse_2pl_girth_subset(benchmark, sparse_2pl: Problem) -> None:
    """girth on the first 10,000 persons only (about a quarter of the data; the full run is ~400 s)."""
    subset = sparse_2pl.dense[:10_000]
    seen = (subset >= 0).any(axis=0)
    problem = Problem(sparse_2pl.matrix, subset[:, seen], sparse_2pl.a, sparse_2pl.b, sparse_2pl.c, sparse_2pl.groups)
    _run(benchmark, _girth(problem.dense), problem, "girth, 10,000-person subset, one group (no SE)",
         truth_rows=np.flatnonzero(seen))
