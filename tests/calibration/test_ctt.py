"""Classical item analysis against hand computations and plain numpy references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.ctt import (
    CTTConfig,
    item_analysis,
    option_analysis,
    reliability,
)
from calibration.errors import ResponseLogError
from calibration.responses import load_responses
from calibration.simulate import simulate_dichotomous, to_long

TOL = 1e-12


def _corrected_rpb(matrix: np.ndarray) -> np.ndarray:
    totals = matrix.sum(axis=1)
    return np.array(
        [np.corrcoef(matrix[:, j], totals - matrix[:, j])[0, 1] for j in range(matrix.shape[1])]
    )


@pytest.fixture(scope="module")
def simulated() -> np.ndarray:
    rng = np.random.default_rng(11)
    n_items = 12
    return simulate_dichotomous(
        rng.normal(size=400), rng.lognormal(0, 0.3, n_items), rng.normal(size=n_items), 0.0, rng
    ).astype(float)


def test_p_values_and_corrected_point_biserials_match_numpy(simulated: np.ndarray) -> None:
    table = item_analysis(simulated)
    assert table["item_id"].tolist() == list(range(simulated.shape[1]))
    np.testing.assert_allclose(table["p_value"], simulated.mean(axis=0), atol=TOL)
    np.testing.assert_allclose(table["point_biserial"], _corrected_rpb(simulated), atol=1e-10)
    assert (table["n"] == simulated.shape[0]).all()


def test_hand_computed_tiny_matrix() -> None:
    matrix = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float)
    table = item_analysis(matrix)
    np.testing.assert_allclose(table["p_value"], [0.75, 0.5, 0.25], atol=TOL)
    # item 0 (1, 1, 1, 0) against rest scores (2, 1, 0, 0): cov 3/16, variances 3/16 and 11/16.
    assert table["point_biserial"].iloc[0] == pytest.approx(np.sqrt(3 / 11), abs=1e-12)
    # KR-20 by hand: sum pq = 0.625, population variance of totals (3, 2, 1, 0) = 1.25.
    row = reliability(matrix).iloc[0]
    assert row["kr20"] == pytest.approx(1.5 * (1 - 0.625 / 1.25), abs=1e-12)
    assert row["alpha"] == pytest.approx(0.75, abs=1e-12)


def test_kr20_equals_alpha_on_dichotomous_data(simulated: np.ndarray) -> None:
    row = reliability(simulated).iloc[0]
    totals = simulated.sum(axis=1)
    k = simulated.shape[1]
    textbook = k / (k - 1) * (1 - simulated.var(axis=0, ddof=1).sum() / totals.var(ddof=1))
    assert row["alpha"] == pytest.approx(textbook, abs=1e-10)
    assert row["kr20"] == pytest.approx(row["alpha"], abs=1e-10)
    assert row["sem"] == pytest.approx(totals.std(ddof=1) * np.sqrt(1 - textbook), abs=1e-10)


def test_polytomous_p_value_uses_rubric_maximum() -> None:
    log = pd.DataFrame(
        {"person_id": [1, 2, 3, 4], "item_id": ["essay"] * 4, "score": [0.0, 2.0, 3.0, 3.0]}
    )
    table = item_analysis(log, max_scores={"essay": 4})
    assert table["p_value"].iloc[0] == pytest.approx(2.0 / 4.0)
    assert np.isnan(reliability(log)["kr20"].iloc[0])


def _two_paper_log(simulated: np.ndarray) -> pd.DataFrame:
    """Persons 0-199 sat paper P1 (items 0-7), persons 200-399 sat P2 (items 4-11)."""
    seen = np.zeros(simulated.shape, dtype=bool)
    seen[:200, :8] = True
    seen[200:, 4:] = True
    paper = np.where(np.arange(simulated.shape[0]) < 200, "P1", "P2")
    return to_long(simulated, np.arange(400), np.arange(12), seen, extra={"paper_id": paper})


def test_sparse_papers_use_rest_scores_within_each_paper(simulated: np.ndarray) -> None:
    log = _two_paper_log(simulated)
    per_paper = item_analysis(log, by_paper=True).set_index(["paper_id", "item_id"])
    p1, p2 = simulated[:200, :8], simulated[200:, 4:]
    np.testing.assert_allclose(
        per_paper.loc["P1", "point_biserial"], _corrected_rpb(p1), atol=1e-10
    )
    np.testing.assert_allclose(
        per_paper.loc["P2", "point_biserial"], _corrected_rpb(p2), atol=1e-10
    )

    pooled = item_analysis(log).set_index("item_id")
    # Item 5 is on both papers: deviations from each paper's means, pooled.
    dx = np.concatenate([p1[:, 5] - p1[:, 5].mean(), p2[:, 1] - p2[:, 1].mean()])
    r1, r2 = p1.sum(1) - p1[:, 5], p2.sum(1) - p2[:, 1]
    dy = np.concatenate([r1 - r1.mean(), r2 - r2.mean()])
    expected = (dx * dy).sum() / np.sqrt((dx**2).sum() * (dy**2).sum())
    assert pooled.loc[5, "point_biserial"] == pytest.approx(expected, abs=1e-10)
    assert pooled.loc[5, "n"] == 400 and pooled.loc[0, "n"] == 200

    rel = reliability(log).set_index("paper_id")
    assert rel.loc["P1", "alpha"] == pytest.approx(reliability(p1)["alpha"].iloc[0], abs=1e-10)
    assert rel.loc["P2", "n_items"] == 8


def test_flags_follow_configured_thresholds() -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(size=600)
    a = np.full(12, 1.5)
    b = np.r_[-4.5, 4.0, np.linspace(-1, 1, 10)]
    matrix = simulate_dichotomous(theta, a, b, 0.0, rng).astype(float)
    matrix[:, 3] = 1 - matrix[:, 3]  # a reversed (miskeyed) item
    table = item_analysis(matrix).set_index("item_id")
    assert "too_easy" in table.loc[0, "flags"]
    assert "too_hard" in table.loc[1, "flags"]
    assert table.loc[2, "flags"] == ""
    assert "negative_discrimination" in table.loc[3, "flags"]
    strict = item_analysis(matrix, config=CTTConfig(low_discrimination=0.9)).set_index("item_id")
    assert "low_discrimination" in strict.loc[2, "flags"]


def test_option_analysis_by_hand_and_attractive_distractor_flag() -> None:
    # Ten takers of a 4-option item keyed A plus a 4-item remainder giving distinct totals.
    options = ["B", "C", "C", "D", "A", "A", "A", "D", "A", "D"]
    scores = [1.0 if o == "A" else 0.0 for o in options]
    rest = np.arange(10, dtype=float)  # person i has rest score i
    log = pd.DataFrame(
        {"person_id": np.arange(10), "item_id": "q", "score": scores, "option": options}
    )
    others = pd.DataFrame(
        {
            "person_id": np.repeat(np.arange(10), 1),
            "item_id": "rest",
            "score": rest,
            "option": np.nan,
        }
    )
    full = pd.concat([log, others], ignore_index=True)
    table = option_analysis(full, max_scores={"q": 1, "rest": 9}).set_index(["item_id", "option"])
    q = table.loc["q"]
    assert q.loc["A", "is_key"] and not q.loc["D", "is_key"]
    np.testing.assert_allclose(q["proportion"].sort_index(), [0.4, 0.1, 0.2, 0.3])
    # Upper 27 % of 10 is 3 persons: totals rank persons 7, 8, 9 (options D, A, D) on top;
    # lower is persons 0, 1, 2 (B, C, C).
    assert q.loc["D", "proportion_upper"] == pytest.approx(2 / 3)
    assert q.loc["D", "proportion_lower"] == 0.0
    assert q.loc["C", "proportion_lower"] == pytest.approx(2 / 3)
    assert q.loc["D", "attracts_high_scorers"] and not q.loc["C", "attracts_high_scorers"]
    indicator = np.array([o == "D" for o in options], dtype=float)
    assert q.loc["D", "point_biserial"] == pytest.approx(
        np.corrcoef(indicator, rest)[0, 1], abs=1e-12
    )
    items = item_analysis(full, max_scores={"q": 1, "rest": 9}).set_index("item_id")
    assert "distractor_attracts_high_scorers" in items.loc["q", "flags"]


def test_bad_logs_raise_errors_naming_the_field() -> None:
    two_papers = pd.DataFrame(
        {"person_id": [1, 1], "item_id": ["a", "b"], "score": [1, 0], "paper_id": ["P1", "P2"]}
    )
    with pytest.raises(ResponseLogError, match="paper_id") as raised:
        item_analysis(two_papers)
    assert raised.value.field == "paper_id"
    with pytest.raises(ResponseLogError, match="max_scores"):
        item_analysis(
            pd.DataFrame({"person_id": [1], "item_id": ["a"], "score": [3]}), max_scores={"a": 2}
        )
    with pytest.raises(ResponseLogError, match="option"):
        option_analysis(pd.DataFrame({"person_id": [1], "item_id": ["a"], "score": [1]}))
    with pytest.raises(ValueError, match="too_hard_p"):
        CTTConfig(too_hard_p=0.99)


def test_response_matrix_input_gives_the_same_analysis(simulated: np.ndarray) -> None:
    log = _two_paper_log(simulated)
    matrix = load_responses(log, max_scores=dict.fromkeys(range(12), 1))
    from_matrix = item_analysis(matrix, by_paper=True)
    from_frame = item_analysis(log, by_paper=True)
    pd.testing.assert_frame_equal(from_matrix, from_frame, check_dtype=False)
    pd.testing.assert_frame_equal(reliability(matrix), reliability(log), check_dtype=False)
