"""Agreement with published estimates (LSAT-6) and with girth on the same dense data."""

from __future__ import annotations

from pathlib import Path

import girth
import numpy as np
import pandas as pd
import pytest

from calibration import calibrate
from calibration.simulate import to_long
from tests.calibration.truth import dense_log

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def lsat6() -> pd.DataFrame:
    patterns = pd.read_csv(DATA / "lsat6_patterns.csv")
    matrix = np.repeat(patterns.filter(like="item").to_numpy(), patterns["count"], axis=0)
    return to_long(matrix, [f"S{i:04d}" for i in range(len(matrix))], [f"Item {j + 1}" for j in range(5)])


def test_lsat6_2pl_matches_published_ltm_estimates(lsat6: pd.DataFrame) -> None:
    """LSAT section 6 (Bock & Lieberman 1970, 1000 examinees, 5 items) fitted by ``ltm(LSAT ~ z1,
    IRT.param = TRUE)`` in R ltm (Rizopoulos 2006, JSS 17(5)); the published summary reads
    log.Lik −2466.653, Dffclt −3.3597 −1.3696 −0.2799 −1.8659 −3.1236, Dscrmn 0.8254 0.7229
    0.8905 0.6886 0.6575, std.err of Dscrmn 0.2581 0.1867 0.2326 0.1852 0.2100. The pattern
    frequencies in ``data/lsat6_patterns.csv`` are the Obs column of the same ltm output.
    Tolerance 0.02 on parameters, 0.01 on the log-likelihood; SEs (ltm: Hessian, ours:
    cross-product) within 10 %.
    """
    result = calibrate(lsat6, "2PL", config={"tol": 1e-6})
    np.testing.assert_allclose(result.items["b"], [-3.3597, -1.3696, -0.2799, -1.8659, -3.1236], atol=0.02)
    np.testing.assert_allclose(result.items["a"], [0.8254, 0.7229, 0.8905, 0.6886, 0.6575], atol=0.02)
    assert result.loglik == pytest.approx(-2466.653, abs=0.01)
    np.testing.assert_allclose(result.items["se_a"], [0.2581, 0.1867, 0.2326, 0.1852, 0.2100], rtol=0.10)
    assert result.converged


def test_2pl_agrees_with_girth_on_dense_data() -> None:
    """girth.twopl_mml on the same 3,000 × 20 log; both are MML, so they agree to within 0.03
    (girth uses 41 points on ±4.5 and its own stopping rule)."""
    log = dense_log(3_000, 20, seed=303)
    ours = calibrate(log.responses, "2PL")
    dense = log.responses.pivot(index="item_id", columns="person_id", values="score").to_numpy(dtype=int)
    theirs = girth.twopl_mml(dense)
    np.testing.assert_allclose(ours.items["a"], theirs["Discrimination"], atol=0.03)
    np.testing.assert_allclose(ours.items["b"], theirs["Difficulty"], atol=0.03)


def test_1pl_agrees_with_girth_on_dense_data() -> None:
    """girth.onepl_mml estimates one common slope and difficulties, as our 1PL does."""
    log = dense_log(3_000, 15, seed=304)
    ours = calibrate(log.responses, "1PL")
    dense = log.responses.pivot(index="item_id", columns="person_id", values="score").to_numpy(dtype=int)
    theirs = girth.onepl_mml(dense)
    assert ours.items["a"].nunique() == 1
    assert ours.items["a"].iloc[0] == pytest.approx(theirs["Discrimination"], abs=0.02)
    np.testing.assert_allclose(ours.items["b"], theirs["Difficulty"], atol=0.03)
