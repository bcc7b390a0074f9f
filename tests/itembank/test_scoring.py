"""Scoring from keys and graders' marks, item-error incidents and the per-part pass decision."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itembank.errors import ValidationError
from itembank.scoring import (
    ItemErrorAction,
    MultipleChoicePolicy,
    ScoringRules,
    certify,
    score_responses,
)

KEYS = pd.DataFrame(
    {
        "item_id": ["S1", "S2", "M1", "T1", "C1"],
        "type": [
            "single_choice",
            "single_choice",
            "multiple_choice",
            "true_false",
            "case_analysis",
        ],
        "points": [2.0, 2.0, 4.0, 2.0, 10.0],
        "key": ["B", "D", "ACD", "T", None],
        "options": ["ABCD", "ABCD", "ABCDE", None, None],
    }
)


def _responses(rows: list[tuple[str, str, object]], paper: str = "P1") -> pd.DataFrame:
    return pd.DataFrame(
        [(person, paper, item, response) for person, item, response in rows],
        columns=["person_id", "paper_id", "item_id", "response"],
    )


def _grades(rows: list[tuple[str, str, float]], paper: str = "P1") -> pd.DataFrame:
    return pd.DataFrame(
        [(person, paper, item, score) for person, item, score in rows],
        columns=["person_id", "paper_id", "item_id", "score"],
    )


ANSWERS = _responses(
    [
        ("ann", "S1", "B"),
        ("ann", "S2", "d"),
        ("ann", "M1", "DCA"),
        ("ann", "T1", "对"),
        ("ann", "C1", "essay"),
        ("bob", "S1", "A"),
        ("bob", "S2", None),
        ("bob", "M1", "A, C"),
        ("bob", "T1", "F"),
        ("bob", "C1", "essay"),
        ("cat", "S1", "B"),
        ("cat", "M1", "ACE"),
        ("cat", "T1", "true"),
        ("cat", "C1", ""),
    ]
)
GRADES = _grades([("ann", "C1", 7.5), ("bob", "C1", 4.0)])


def _by_person(result) -> pd.DataFrame:
    return result.results.set_index("person_id")


def test_hand_checked_exact_policy() -> None:
    result = score_responses(ANSWERS, KEYS, grader_scores=GRADES)
    table = _by_person(result)
    # ann: 2 + 2 + 4 + 2 + 7.5 = 17.5 of 20; bob: 0 + 0 + 0 + 0 + 4; cat: 2 + 0 + 0 + 2 + 0 (blank case)
    assert table["raw"].to_dict() == pytest.approx({"ann": 17.5, "bob": 4.0, "cat": 4.0})
    assert (table["max"] == 20.0).all()
    assert table["score_100"].to_dict() == pytest.approx({"ann": 87.5, "bob": 20.0, "cat": 20.0})
    assert table["passed"].to_dict() == {"ann": True, "bob": False, "cat": False}
    rows = result.responses.set_index(["person_id", "item_id"])
    assert rows.loc[("cat", "S2"), "status"] == "omitted" and rows.loc[("cat", "S2"), "score"] == 0
    assert rows.loc[("bob", "S2"), "status"] == "omitted"
    assert rows.loc[("ann", "C1"), "status"] == "graded" and rows.loc[("ann", "C1"), "score"] == 7.5
    assert len(result.responses) == 15
    assert result.summary()["passed"] == 1


def test_partial_policy_gives_half_for_a_correct_subset_only() -> None:
    rules = ScoringRules(multiple_choice=MultipleChoicePolicy.PARTIAL)
    answers = _responses(
        [("p1", "M1", "AC"), ("p2", "M1", "ACE"), ("p3", "M1", "CDA"), ("p4", "M1", "D")]
    )
    keys = KEYS[KEYS["item_id"] == "M1"]
    scores = score_responses(answers, keys, rules=rules).responses.set_index("person_id")["score"]
    assert scores.to_dict() == pytest.approx({"p1": 2.0, "p2": 0.0, "p3": 4.0, "p4": 2.0})
    exact = score_responses(answers, keys).responses.set_index("person_id")["score"]
    assert exact.to_dict() == pytest.approx({"p1": 0.0, "p2": 0.0, "p3": 4.0, "p4": 0.0})


def test_paper_not_totalling_100_is_rescaled_and_pass_mark_is_configurable() -> None:
    keys = pd.DataFrame(
        {"item_id": ["a", "b", "c"], "type": "single_choice", "points": [1.0, 1.0, 3.0], "key": "A"}
    )
    answers = _responses([("x", "a", "A"), ("x", "b", "A"), ("x", "c", "B")])
    row = score_responses(answers, keys).results.iloc[0]
    assert (row["raw"], row["max"], row["score_100"], row["passed"]) == (
        2.0,
        5.0,
        pytest.approx(40.0),
        False,
    )
    assert bool(
        score_responses(answers, keys, rules=ScoringRules(pass_mark=40)).results["passed"].iloc[0]
    )


def test_item_error_drop_rescales_and_credit_all_gives_full_points() -> None:
    dropped = _by_person(
        score_responses(ANSWERS, KEYS, grader_scores=GRADES, item_errors={"M1": "drop"})
    )
    assert dropped["max"].to_dict() == {"ann": 16.0, "bob": 16.0, "cat": 16.0}
    assert dropped.loc["ann", "score_100"] == pytest.approx(13.5 / 16 * 100)
    credited = score_responses(
        ANSWERS, KEYS, grader_scores=GRADES, item_errors={"S2": ItemErrorAction.CREDIT_ALL}
    )
    table = _by_person(credited)
    assert table["raw"].to_dict() == pytest.approx({"ann": 17.5, "bob": 6.0, "cat": 6.0})
    assert set(credited.responses.loc[credited.responses["item_id"] == "S2", "status"]) == {
        "credited"
    }
    with pytest.raises(ValidationError, match="not on any scored paper"):
        score_responses(ANSWERS, KEYS, grader_scores=GRADES, item_errors={"ZZ": "drop"})


@pytest.mark.parametrize(
    ("item", "response", "field"),
    [
        ("S1", "Z", "responses.response"),
        ("S1", "AB", "responses.response"),
        ("M1", "AF", "responses.response"),
        ("T1", "maybe", "responses.response"),
        ("S1", "A1", "responses.response"),
        ("Q9", "A", "item_id"),
    ],
)
def test_malformed_responses_and_unknown_items_are_named(
    item: str, response: str, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        score_responses(
            _responses([("ann", item, response)]), KEYS[KEYS["type"] != "case_analysis"]
        )
    assert caught.value.field == field and isinstance(caught.value, ValueError)
    assert caught.value.details and caught.value.details[0]["item_id"] == item


def test_grader_scores_are_validated() -> None:
    for bad in (10.5, -1.0, float("nan")):
        with pytest.raises(ValidationError, match="between 0 and the item's points"):
            score_responses(
                ANSWERS, KEYS, grader_scores=_grades([("ann", "C1", bad), ("bob", "C1", 1)])
            )
    with pytest.raises(ValidationError, match="no grader score") as caught:
        score_responses(ANSWERS, KEYS, grader_scores=_grades([("ann", "C1", 1.0)]))
    assert caught.value.details == [{"person_id": "bob", "paper_id": "P1", "item_id": "C1"}]
    with pytest.raises(ValidationError, match="objective items"):
        score_responses(
            ANSWERS, KEYS, grader_scores=pd.concat([GRADES, _grades([("ann", "S1", 2.0)])])
        )
    with pytest.raises(ValidationError, match="repeating"):
        score_responses(ANSWERS, KEYS, grader_scores=pd.concat([GRADES, GRADES]))


def test_key_table_is_validated() -> None:
    for column, value, match in [
        ("key", "BC", "well-formed key"),
        ("key", "E", "well-formed key"),
        ("points", 0, "positive"),
        ("type", "essay_x", "unknown item type"),
    ]:
        keys = KEYS.copy()
        keys.loc[0, column] = value
        with pytest.raises(ValidationError, match=match):
            score_responses(ANSWERS, keys, grader_scores=GRADES)
    with pytest.raises(ValidationError, match="lacks column"):
        score_responses(ANSWERS, KEYS.drop(columns="points"))


def test_paper_scoped_keys_define_the_composition() -> None:
    keys = pd.concat(
        [KEYS.assign(paper_id="P1"), KEYS.iloc[:2].assign(paper_id="P2", key=["C", "C"])]
    )
    answers = pd.concat([ANSWERS, _responses([("dan", "S1", "C")], paper="P2")])
    result = score_responses(answers, keys, grader_scores=GRADES)
    dan = result.results.set_index("person_id").loc["dan"]
    assert (dan["raw"], dan["max"]) == (2.0, 4.0)
    with pytest.raises(ValidationError, match="not on paper"):
        score_responses(
            pd.concat([answers, _responses([("dan", "M1", "A")], paper="P2")]),
            keys,
            grader_scores=GRADES,
        )


def test_practical_paper_scored_from_grades_alone_and_certified() -> None:
    practical_keys = pd.DataFrame(
        {"item_id": ["K1", "K2"], "type": "practical_task", "points": [60.0, 40.0], "key": None}
    )
    grades = _grades(
        [("ann", "K1", 50), ("ann", "K2", 30), ("bob", "K1", 60), ("bob", "K2", 0)], paper="PR"
    )
    practical = score_responses(
        pd.DataFrame(columns=["person_id", "paper_id", "item_id", "response"]),
        practical_keys,
        grader_scores=grades,
    ).results
    theory = score_responses(ANSWERS, KEYS, grader_scores=GRADES).results
    both = pd.concat([theory, practical])
    parts = {"P1": "theory", "PR": "practical"}
    level3 = certify(both, parts, level=3).set_index("person_id")
    assert (
        level3.loc["ann", "theory"] == pytest.approx(87.5) and level3.loc["ann", "practical"] == 80
    )
    assert level3["outcome"].to_dict() == {"ann": "certified", "bob": "failed", "cat": "failed"}
    level2 = certify(both, parts, level=2).set_index("person_id")
    assert level2["outcome"].to_dict() == {
        "ann": "comprehensive_review",
        "bob": "failed",
        "cat": "failed",
    }
    assert level2["comprehensive_review"].to_dict() == {"ann": True, "bob": False, "cat": False}
    assert np.isnan(level2.loc["cat", "practical"])


def test_pass_boundary_is_inclusive() -> None:
    keys = pd.DataFrame({"item_id": list("abcde"), "type": "true_false", "points": 1.0, "key": "T"})
    answers = _responses([("x", i, r) for i, r in zip("abcde", "TTTFF", strict=True)])
    row = score_responses(answers, keys).results.iloc[0]
    assert row["score_100"] == pytest.approx(60.0) and bool(row["passed"])


OPTION_LETTERS = "ABCDEF"
letter_sets = st.sets(st.sampled_from(OPTION_LETTERS), min_size=1)


@settings(max_examples=60, deadline=None)
@given(
    key=letter_sets,
    answer=letter_sets,
    points=st.floats(0.5, 20),
    data=st.data(),
    policy=st.sampled_from(list(MultipleChoicePolicy)),
)
def test_multiple_choice_properties(key, answer, points, data, policy) -> None:
    """Score lies in [0, points]; letter order of key and answer never matters; exact set earns all."""
    key_text = "".join(data.draw(st.permutations(sorted(key))))
    keys = pd.DataFrame(
        {
            "item_id": ["m"],
            "type": ["multiple_choice"],
            "points": [points],
            "key": [key_text],
            "options": [OPTION_LETTERS],
        }
    )
    orders = ["".join(p) for p in itertools.islice(itertools.permutations(sorted(answer)), 4)]
    answers = _responses([(f"p{i}", "m", order) for i, order in enumerate(orders)])
    scores = score_responses(answers, keys, rules=ScoringRules(multiple_choice=policy)).responses[
        "score"
    ]
    assert scores.nunique() == 1
    score = scores.iloc[0]
    assert 0 <= score <= points + 1e-12
    if answer == key:
        assert score == pytest.approx(points)
    elif policy is MultipleChoicePolicy.PARTIAL and answer < key:
        assert score == pytest.approx(points / 2)
    else:
        assert score == 0


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["S1", "S2", "M1", "T1"]),
            st.sampled_from(["A", "B", "C", "D", "AC", "ACD", "T", "F", None]),
        ),
        max_size=30,
    )
)
def test_total_score_bounds_hold_for_any_valid_answer_sheet(rows) -> None:
    valid = {
        "S1": set("ABCD"),
        "S2": set("ABCD"),
        "M1": {"A", "B", "C", "D", "AC", "ACD"},
        "T1": {"T", "F"},
    }
    sheet = {item: r for item, r in rows if r is None or r in valid[item]}
    answers = _responses([("x", item, r) for item, r in sheet.items()] or [("x", "S1", None)])
    paper_keys = KEYS[KEYS["type"] != "case_analysis"].assign(paper_id="P1")
    result = score_responses(answers, paper_keys)
    table = result.responses
    assert ((table["score"] >= 0) & (table["score"] <= table["points"])).all()
    row = result.results.iloc[0]
    assert row["max"] == 10.0 and 0 <= row["score_100"] <= 100
