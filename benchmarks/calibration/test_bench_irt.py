"""IRT calibration benchmarks: ours against girth and the Rust-backed PyPI ``mirt``, on the same data.

Run: ``.venv/bin/python -m pytest benchmarks/calibration -m bench -p no:xdist -s --benchmark-group-by=group``

Each group times one fit per library (rounds=1: the fits take seconds to minutes) and records the
RMSE against the generating truth in ``extra_info``, so speed is only compared at stated accuracy.
Data preparation (reading the log, pivoting to the dense matrix the peers need) is outside the
timing. Ours computes cross-product standard errors and EAP scores inside the timing; mirt is
asked for standard errors too; girth computes none. Ours shares the E-step's pattern blocks among
one thread per core (``threads``), as mirt's Rust backend uses its own thread pool. girth's 3PL does not run under numpy ≥ 2.4
("setting an array element with a sequence"), so the 3PL group compares ours with mirt only.
girth runs on the full one-population ring design (so the ours:girth ratio is on identical data,
where a one-group fit is right) and on a 10,000-person subset of the common-anchor design (labelled).

Three sparse designs, all 40,000 persons on 8 papers. Two have 8 groups with means −0.6..+0.6: the
issue's literal one (400 items, papers of 60 each sharing 10 items with the paper before and 10 with
the one after, 85 % missing) and a common-anchor one (20 anchors on every paper, 340 items, 82 %
missing); their truth is put on the reference group's scale, the scale a multiple-group fit
reports, and a one-group fit reports another scale, so ``rmse_*_linked`` (estimates
mean/sigma-linked onto the truth) compares estimation error alone. The third is the ring design
with every candidate from N(0, 1), fitted as one group by everyone: the setting of the issue's
reference figures (girth RMSE a 0.043, b 0.054). ``rms_se_*`` is the root-mean-square reported
standard error: the RMSE an unbiased, efficient estimator is expected to reach on this draw.
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
    group: str = ""  # the benchmark group it belongs to, for the parametrised sparse designs


def _problem(responses: pd.DataFrame, items: pd.DataFrame, group: str = "") -> Problem:
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
        group=group,
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


SPARSE_2PL = "2PL sparse 40,000 x 340, 8 papers/groups, common anchors"
RING_2PL = "2PL sparse 40,000 x 400, 8 papers/groups, ring-linked (the issue's design)"
RING_ONE_POPULATION = "2PL sparse 40,000 x 400, ring-linked, one population (the issue's reference figures)"
SPARSE_DESIGNS = {SPARSE_2PL: "common", RING_2PL: "ring", RING_ONE_POPULATION: "ring"}
MULTIGROUP = (SPARSE_2PL, RING_2PL)


@pytest.fixture(scope="module", params=list(SPARSE_DESIGNS))
def sparse_2pl(request: pytest.FixtureRequest) -> Problem:
    """The two multi-group designs keep the group column and are scored on the reference group's
    scale; the one-population design (every paper's candidates from N(0, 1), as girth and a
    one-group fit assume) drops it and is scored on the population's scale."""
    one_population = request.param == RING_ONE_POPULATION
    design = simulate_paper_design(40_000, np.random.default_rng(7), linking=SPARSE_DESIGNS[request.param],
                                   group_means=np.zeros(8) if one_population else None)
    if one_population:
        return _problem(design.responses.drop(columns=["group"]), design.items, group=request.param)
    items, _ = design.on_reference_scale()
    return _problem(design.responses, items, group=request.param)


@dataclass(frozen=True)
class Estimates:
    """What one fit returns: a and b, and their reported standard errors when the library gives them."""

    a: np.ndarray
    b: np.ndarray
    se_a: np.ndarray | None = None
    se_b: np.ndarray | None = None


def _run(benchmark, fit: Callable[[], Estimates], problem: Problem, label: str,
         truth_rows: np.ndarray | None = None) -> None:
    estimates = benchmark.pedantic(fit, rounds=1, iterations=1)
    rows = slice(None) if truth_rows is None else truth_rows
    a_true, b_true = problem.a[rows], problem.b[rows]
    slope = np.std(b_true) / np.std(estimates.b)
    a_linked, b_linked = estimates.a / slope, slope * (estimates.b - np.mean(estimates.b)) + np.mean(b_true)
    benchmark.extra_info.update({
        "library": label,
        "rmse_a": round(rmse(estimates.a, a_true), 4),
        "rmse_b": round(rmse(estimates.b, b_true), 4),
        "rmse_a_linked": round(rmse(a_linked, a_true), 4),
        "rmse_b_linked": round(rmse(b_linked, b_true), 4),
        "persons": int(problem.dense.shape[0]),
        "items": int(problem.dense.shape[1]),
    })
    for name, se in (("rms_se_a", estimates.se_a), ("rms_se_b", estimates.se_b)):
        if se is not None:
            benchmark.extra_info[name] = round(float(np.sqrt(np.nanmean(np.square(se)))), 4)
    info = benchmark.extra_info
    floor = f", rms SE a {info['rms_se_a']} b {info['rms_se_b']}" if "rms_se_a" in info else ""
    print(f"\n{benchmark.group} | {label}: {benchmark.stats.stats.max:.2f} s, rmse a {info['rmse_a']}, "
          f"b {info['rmse_b']} (linked a {info['rmse_a_linked']}, b {info['rmse_b_linked']}){floor}")


def _ours(problem: Problem, model: str) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        items = calibrate(problem.matrix, model, config={"quadrature_points": QUADRATURE_POINTS}).items
        return Estimates(items["a"].to_numpy(), items["b"].to_numpy(), items["se_a"].to_numpy(), items["se_b"].to_numpy())
    return fit


def _mirt(problem: Problem, model: str) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        result = mirt.fit_mirt(problem.dense, model, n_quadpts=QUADRATURE_POINTS)
        parameters, errors = result.model.parameters, result.standard_errors
        return Estimates(np.ravel(parameters["discrimination"]), np.ravel(parameters["difficulty"]),
                         np.ravel(errors["discrimination"]), np.ravel(errors["difficulty"]))
    return fit


def _mirt_groups(problem: Problem) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        result = mirt.fit_multigroup(problem.dense, problem.groups, "2PL", invariance="scalar",
                                     n_quadpts=QUADRATURE_POINTS)
        table = result.coef()
        first = table[table["group"] == table["group"].iloc[0]]
        return Estimates(first["discrimination"].to_numpy(), first["difficulty"].to_numpy())
    return fit


def _girth(dense: np.ndarray) -> Callable[[], Estimates]:
    def fit() -> Estimates:
        data = np.where(dense < 0, girth.INVALID_RESPONSE, dense).T
        result = girth.twopl_mml(data)
        return Estimates(result["Discrimination"], result["Difficulty"])
    return fit


DENSE_2PL = "2PL dense 10,000 x 100"
DENSE_3PL = "3PL dense 10,000 x 60"


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


def test_sparse_2pl_ours(benchmark, sparse_2pl: Problem) -> None:
    benchmark.group = sparse_2pl.group
    groups = "8 groups" if sparse_2pl.group in MULTIGROUP else "one group"
    _run(benchmark, _ours(sparse_2pl, "2PL"), sparse_2pl, f"itembank calibration, {groups} (SE + EAP)")


def test_sparse_2pl_mirt(benchmark, sparse_2pl: Problem) -> None:
    benchmark.group = sparse_2pl.group
    _run(benchmark, _mirt(sparse_2pl, "2PL"), sparse_2pl, "mirt (Rust, one group, SE)")


def test_sparse_2pl_mirt_groups(benchmark, sparse_2pl: Problem) -> None:
    if sparse_2pl.group not in MULTIGROUP:
        pytest.skip("one population: no groups to fit")
    benchmark.group = sparse_2pl.group
    _run(benchmark, _mirt_groups(sparse_2pl), sparse_2pl, "mirt (Rust) fit_multigroup, scalar invariance")


def test_sparse_2pl_girth(benchmark, sparse_2pl: Problem) -> None:
    """girth fits one group only, so it runs where that is the truth: the full one-population ring
    design (~225-415 s; the issue's 50x target is a ratio on identical data there), and the first
    10,000 persons of the common-anchor design (labelled). On the 8-group ring design it took 225 s
    and missed b by 0.68 (one group cannot hold means from -0.6 to +0.6), so it is not rerun there."""
    benchmark.group = sparse_2pl.group
    if sparse_2pl.group == RING_ONE_POPULATION:
        _run(benchmark, _girth(sparse_2pl.dense), sparse_2pl, "girth, all 40,000 persons, one group (no SE)")
        return
    if sparse_2pl.group == RING_2PL:
        pytest.skip("girth fits one group; this design has eight (measured once: 225 s, RMSE b 0.68)")
    subset = sparse_2pl.dense[:10_000]
    seen = (subset >= 0).any(axis=0)
    problem = Problem(sparse_2pl.matrix, subset[:, seen], sparse_2pl.a, sparse_2pl.b, sparse_2pl.c, sparse_2pl.groups)
    _run(benchmark, _girth(problem.dense), problem, "girth, 10,000-person subset, one group (no SE)",
         truth_rows=np.flatnonzero(seen))
