"""Response logs: reading, sparse layout and the errors a bad log must produce."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration import ResponseLogError, ResponseLogWarning, load_responses


@pytest.fixture
def log() -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": ["p1", "p1", "p2", "p2", "p3"],
        "item_id": ["i1", "i2", "i1", "i3", "i3"],
        "score": [1, 0, 0, 2, 1],
        "group": ["A", "A", "B", "B", "B"],
        "paper_id": ["X", "X", "Y", "Y", "Y"],
    })


def test_builds_sparse_matrix_with_observed_zeros(log: pd.DataFrame) -> None:
    matrix = load_responses(log)
    assert list(matrix.person_ids) == ["p1", "p2", "p3"]
    assert list(matrix.item_ids) == ["i1", "i2", "i3"]
    assert matrix.observed.nnz == 5
    np.testing.assert_array_equal(matrix.observed.toarray(), [[1, 1, 0], [1, 0, 1], [0, 0, 1]])
    np.testing.assert_array_equal(matrix.scores.toarray(), [[1, 0, 0], [0, 0, 2], [0, 0, 1]])
    np.testing.assert_array_equal(matrix.max_score, [1, 0, 2])
    assert list(matrix.group_ids) == ["A", "B"]
    np.testing.assert_array_equal(matrix.group, [0, 1, 1])
    assert list(matrix.paper) == ["X", "Y", "Y"]
    assert matrix.density == pytest.approx(5 / 9)


def test_reads_csv_and_parquet(log: pd.DataFrame, tmp_path) -> None:
    log.to_csv(tmp_path / "log.csv", index=False)
    log.to_parquet(tmp_path / "log.parquet")
    for path in (tmp_path / "log.csv", tmp_path / "log.parquet"):
        matrix = load_responses(path)
        assert matrix.n_responses == 5 and matrix.n_groups == 2


def test_declared_maxima_and_missing_scores(log: pd.DataFrame) -> None:
    frame = pd.concat([log, pd.DataFrame({"person_id": ["p3"], "item_id": ["i1"], "score": [np.nan],
                                          "group": ["B"], "paper_id": ["Y"]})])
    matrix = load_responses(frame, max_scores={"i2": 1, "i3": 3})
    assert matrix.n_responses == 5
    np.testing.assert_array_equal(matrix.max_score, [1, 1, 3])


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        (lambda f: f.drop(columns="score"), "score", "missing column(s) score"),
        (lambda f: f.assign(score=["1", "x", 0, 2, 1]), "score", "row(s) 1"),
        (lambda f: f.assign(score=[1, 0.5, 0, 2, 1]), "score", "whole non-negative"),
        (lambda f: f.assign(score=[1, -1, 0, 2, 1]), "score", "whole non-negative"),
        (lambda f: pd.concat([f, f.iloc[[0]]]), "person_id,item_id", "person 'p1', item 'i1'"),
        (lambda f: f.assign(item_id=["i1", None, "i1", "i3", "i3"]), "item_id", "empty in row(s) 1"),
        (lambda f: f.assign(group=["A", "B", "B", "B", "B"]), "group", "person 'p1'"),
    ],
)
def test_bad_logs_name_the_column_and_rows(log: pd.DataFrame, change, field: str, fragment: str) -> None:
    with pytest.raises(ResponseLogError) as info:
        load_responses(change(log))
    assert info.value.field == field
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bank_mode_rejects_unknown_items(log: pd.DataFrame) -> None:
    with pytest.raises(ResponseLogError, match="not in the bank: i3") as info:
        load_responses(log, known_items=["i1", "i2"])
    assert info.value.rows == [3, 4]


def test_scores_above_declared_maximum(log: pd.DataFrame) -> None:
    with pytest.raises(ResponseLogError, match=r"item 'i3' scored 2 > 1"):
        load_responses(log, max_scores={"i3": 1})


def test_missing_file_is_reported(tmp_path) -> None:
    with pytest.raises(ResponseLogError, match="does not exist"):
        load_responses(tmp_path / "nope.csv")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 8), st.integers(0, 3)), min_size=1, max_size=60,
                unique_by=lambda t: (t[0], t[1])))
def test_round_trip_keeps_every_cell(cells: list[tuple[int, int, int]]) -> None:
    frame = pd.DataFrame(cells, columns=["person_id", "item_id", "score"]).astype({"person_id": str, "item_id": str})
    matrix = load_responses(frame)
    back = matrix.to_frame().drop(columns="group")
    merged = frame.merge(back, on=["person_id", "item_id"], suffixes=("", "_back"))
    assert len(merged) == len(frame) == matrix.n_responses
    assert (merged["score"] == merged["score_back"]).all()
    assert matrix.scores.sum() == frame["score"].sum()


def test_an_unknown_column_is_warned_about_and_listed_on_the_matrix(log: pd.DataFrame) -> None:
    """A notebook user calling load_responses directly learns what the command line's user learns."""
    with pytest.warns(ResponseLogWarning, match="^作答记录的列 note 未识别，已忽略$"):
        matrix = load_responses(log.assign(note="x", response="B"))
    assert matrix.ignored_columns == ("note",)
    assert load_responses(log).ignored_columns == ()


@pytest.mark.parametrize(("column", "known"), [("scores", "score"), ("paperid", "paper_id"), ("Group", "group")])
def test_a_column_looking_like_a_known_one_is_refused_naming_both(log: pd.DataFrame, column: str, known: str) -> None:
    """Ignored, ``groups`` would fit one group instead of two and ``paperid`` drop the paper of each person."""
    renamed = log.drop(columns=[known]) if known in log.columns else log
    with pytest.raises(ResponseLogError, match=f"作答记录的列 {column} 未识别，是否应为 {known}？") as caught:
        load_responses(renamed.assign(**{column: log.get(known, "A")}))
    assert caught.value.field == column


@pytest.mark.parametrize(("text", "message"), [
    ("person_id,item_id,score,score\np1,i1,1,0\n", "列名 score 出现了不止一次"),
    ("person_id,item_id,score,\np1,i1,1,\np2,i1,0,x\n", "第 4 列没有列名，但在第 3 行有内容"),
    ("person_id,item_id,score\np1,i1,1,1\np2,i1,0\n", "有的行单元格多于表头"),
])
def test_a_csv_log_laid_out_so_pandas_would_misread_it_is_refused(tmp_path, text: str, message: str) -> None:
    """The stray comma of the last case made pandas take person_id as the index and shift every column."""
    (tmp_path / "log.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ResponseLogError, match=message):
        load_responses(tmp_path / "log.csv")


def test_a_csv_log_with_blank_trailing_cells_reads_unshifted(tmp_path) -> None:
    (tmp_path / "log.csv").write_text("person_id,item_id,score,\np1,i1,1,\np2,i1,0,\n", encoding="utf-8")
    matrix = load_responses(tmp_path / "log.csv")
    assert list(matrix.person_ids) == ["p1", "p2"] and list(matrix.score) == [1, 0]
    assert matrix.ignored_columns == ()
