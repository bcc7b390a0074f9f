"""Scoring a paper from the bank's keys and the graders' marks, and the pass decision per part.

Pure pandas/numpy: a long responses table and a key table in, tidy tables out. Objective items are
scored once per distinct (item, response) pair, so ten million responses cost a few thousand
decisions plus merges. Every part is on a 100-point scale and passes at 60 (rules, 第二十五条);
technicians (level 2) and senior technicians (level 1) who pass go on to comprehensive review.
Errors are ``itembank.errors.ValidationError`` (a ``ValueError``) naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from itembank.errors import ValidationError

SINGLE_CHOICE, MULTIPLE_CHOICE, TRUE_FALSE = "single_choice", "multiple_choice", "true_false"
CHOICE_TYPES = frozenset({SINGLE_CHOICE, MULTIPLE_CHOICE})
OBJECTIVE_TYPES = CHOICE_TYPES | {TRUE_FALSE}
SUBJECTIVE_TYPES = frozenset(
    {"short_answer", "calculation", "case_analysis", "plan_design", "practical_task"}
)
TRUE_TOKENS = ("T", "TRUE", "Y", "YES", "1", "√", "✓", "对", "正确", "是")
FALSE_TOKENS = ("F", "FALSE", "N", "NO", "0", "×", "✗", "错", "错误", "否")
TRUE_FALSE_TOKENS = dict.fromkeys(TRUE_TOKENS, "T") | dict.fromkeys(FALSE_TOKENS, "F")
SEPARATORS = r"[\s,;/、，；]"
TOLERANCE = 1e-9
EXAMPLES = 10


class MultipleChoicePolicy(StrEnum):
    """``exact``: full points only for the exact key set. ``partial``: a fraction for a correct subset."""

    EXACT = "exact"
    PARTIAL = "partial"


class ItemErrorAction(StrEnum):
    """What an item-error incident decided: drop the item and rescale, or credit everyone in full."""

    DROP = "drop"
    CREDIT_ALL = "credit_all"


class ScoringRules(BaseModel):
    """Scoring configuration; defaults follow the certification rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    multiple_choice: MultipleChoicePolicy = MultipleChoicePolicy.EXACT
    partial_fraction: float = Field(
        default=0.5, gt=0, lt=1, description="share of points for a correct subset"
    )
    scale: float = Field(default=100.0, gt=0, description="every part is reported on this scale")
    pass_mark: float = Field(
        default=60.0, ge=0, description="a part passes at or above this scaled score"
    )
    required_parts: tuple[str, ...] = ("theory", "practical")
    review_levels: tuple[int, ...] = Field(
        default=(1, 2), description="levels that go on to 综合评审"
    )


def _fail(message: str, column: str, examples: pd.DataFrame | None = None) -> ValidationError:
    details = None if examples is None else examples.head(EXAMPLES).to_dict(orient="records")
    return ValidationError(message, field=column, details=details)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _fail(f"{table} lacks column(s) {', '.join(missing)}", f"{table}.{missing[0]}")


def _unique(frame: pd.DataFrame, columns: list[str], table: str) -> None:
    duplicated = frame.duplicated(columns, keep=False)
    if duplicated.any():
        raise _fail(
            f"{table} has {int(duplicated.sum())} rows repeating the same {', '.join(columns)}",
            f"{table}.{columns[-1]}",
            frame.loc[duplicated, columns],
        )


def _letter_masks(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Bit masks of the letters A-Z in each string (bit 0 = A) and whether all characters were letters."""
    cleaned = texts.fillna("").astype(str).str.upper().str.replace(SEPARATORS, "", regex=True)
    width = max(1, int(cleaned.str.len().max())) if len(cleaned) else 1
    codes = (
        np.array(cleaned.tolist(), dtype=f"<U{width}").view(np.uint32).reshape(len(cleaned), width)
    )
    letters = (codes >= ord("A")) & (codes <= ord("Z"))
    bits = np.where(letters, np.left_shift(1, (codes - ord("A")) * letters, dtype=np.int64), 0)
    return np.bitwise_or.reduce(bits, axis=1), (letters | (codes == 0)).all(axis=1)


def _true_false(texts: pd.Series) -> pd.Series:
    """'T', 'F', or NaN for anything that is not a true/false token."""
    return texts.astype(str).str.strip().str.upper().map(TRUE_FALSE_TOKENS)


def _prepare_keys(keys: pd.DataFrame, key_columns: list[str]) -> pd.DataFrame:
    """Validate the key table and add the masks used for scoring."""
    _require(keys, ("item_id", "type", "points", "key"), "keys")
    _unique(keys, key_columns, "keys")
    table = keys.copy()
    unknown = ~table["type"].isin(OBJECTIVE_TYPES | SUBJECTIVE_TYPES)
    if unknown.any():
        known = ", ".join(sorted(OBJECTIVE_TYPES | SUBJECTIVE_TYPES))
        raise _fail(
            f"unknown item type(s); known types are {known}", "keys.type", table.loc[unknown]
        )
    points = pd.to_numeric(table["points"], errors="coerce")
    if not (points > 0).all():
        raise _fail("points must be positive numbers", "keys.points", table.loc[~(points > 0)])
    table["points"] = points.astype(float)
    options = table["options"] if "options" in table.columns else pd.Series("", index=table.index)
    options = options.map(lambda o: "".join(o) if isinstance(o, list | tuple | dict) else o)
    table["options_mask"], _ = _letter_masks(options)
    table["key_mask"], key_letters = _letter_masks(table["key"])
    table["key_tf"] = _true_false(table["key"])
    choice, single = table["type"].isin(CHOICE_TYPES), table["type"] == SINGLE_CHOICE
    counts = np.bitwise_count(table["key_mask"].to_numpy())
    bad = (choice & (~key_letters | (counts == 0) | (single & (counts != 1)))) | (
        (table["type"] == TRUE_FALSE) & table["key_tf"].isna()
    )
    bad |= (
        choice & (table["options_mask"] != 0) & ((table["key_mask"] & ~table["options_mask"]) != 0)
    )
    if bad.any():
        raise _fail(
            "objective items need a well-formed key within their options",
            "keys.key",
            table.loc[bad],
        )
    return table


def _score_objective(pairs: pd.DataFrame, rules: ScoringRules) -> pd.Series:
    """Share of points (0, partial, 1) for distinct (item, response) pairs; malformed ones raise."""
    mask, letters_only = _letter_masks(pairs["response"])
    choice, single = pairs["type"].isin(CHOICE_TYPES), pairs["type"] == SINGLE_CHOICE
    key, allowed = pairs["key_mask"].to_numpy(), pairs["options_mask"].to_numpy()
    tf = _true_false(pairs["response"])
    malformed = choice & (
        ~letters_only
        | (mask == 0)
        | ((allowed != 0) & ((mask & ~allowed) != 0))
        | (single & (np.bitwise_count(mask) > 1))
    )
    malformed |= (pairs["type"] == TRUE_FALSE) & tf.isna()
    if malformed.any():
        raise _fail(
            f"{int(malformed.sum())} distinct response(s) are malformed for their item "
            "(a letter outside the options, several letters for a single choice, or not true/false)",
            "responses.response",
            pairs.loc[malformed, ["item_id", "type", "response"]],
        )
    exact = np.where(choice, mask == key, tf == pairs["key_tf"])
    share = exact.astype(float)
    if rules.multiple_choice is MultipleChoicePolicy.PARTIAL:
        subset = (pairs["type"] == MULTIPLE_CHOICE) & ((mask & ~key) == 0) & ~exact
        share[subset.to_numpy()] = rules.partial_fraction
    return pd.Series(share, index=pairs.index)


def _answered(responses: pd.Series) -> pd.Series:
    return responses.notna() & (responses.astype(str).str.strip() != "")


@dataclass(frozen=True)
class ScoringResult:
    """``responses``: one row per person, paper and item; ``results``: one row per person and paper."""

    responses: pd.DataFrame
    results: pd.DataFrame
    rules: ScoringRules
    item_errors: dict[Any, ItemErrorAction] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "sittings": len(self.results),
            "passed": int(self.results["passed"].sum()),
            "mean_score": float(self.results["score_100"].mean())
            if len(self.results)
            else float("nan"),
            "item_errors": {str(k): v.value for k, v in self.item_errors.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "results": self.results.to_dict(orient="records")}


def score_responses(
    responses: pd.DataFrame,
    keys: pd.DataFrame,
    *,
    grader_scores: pd.DataFrame | None = None,
    rules: ScoringRules | None = None,
    item_errors: Mapping[Any, ItemErrorAction | str] | None = None,
) -> ScoringResult:
    """Score every sitting: objective items from the keys, subjective ones from the graders' marks.

    ``responses``: person_id, paper_id, item_id, response. ``keys``: item_id, type, points, key,
    optionally options (labels, e.g. 'ABCD') and paper_id. With paper_id the key table is also each
    paper's composition; without it a paper consists of the items anyone answered on it. Items a
    person left out score 0 and still count in the maximum. ``grader_scores``: person_id, paper_id,
    item_id, score for subjective items. ``item_errors`` maps item ids to drop or credit-all.
    """
    rules = rules or ScoringRules()
    _require(responses, ("person_id", "paper_id", "item_id", "response"), "responses")
    _unique(responses, ["person_id", "paper_id", "item_id"], "responses")
    grades = (
        pd.DataFrame(columns=["person_id", "paper_id", "item_id", "score"])
        if grader_scores is None
        else grader_scores
    )
    _require(grades, ("person_id", "paper_id", "item_id", "score"), "grader_scores")
    _unique(grades, ["person_id", "paper_id", "item_id"], "grader_scores")
    key_columns = ["paper_id", "item_id"] if "paper_id" in keys.columns else ["item_id"]
    table = _prepare_keys(keys, key_columns)
    entries = pd.concat(
        [
            responses[["person_id", "paper_id", "item_id"]],
            grades[["person_id", "paper_id", "item_id"]],
        ]
    )

    if "paper_id" in keys.columns:
        composition = table[["paper_id", "item_id"]]
    else:
        composition = entries[["paper_id", "item_id"]].drop_duplicates()
    placed = entries.merge(table[key_columns], on=key_columns, how="left", indicator=True)
    stray = placed["_merge"] == "left_only"
    if stray.any():
        where = "on paper" if "paper_id" in keys.columns else "in the key table"
        raise _fail(
            f"{int(stray.sum())} response/grade row(s) name items not {where}",
            "item_id",
            placed.loc[stray],
        )

    sittings = entries[["person_id", "paper_id"]].drop_duplicates()
    scored = sittings.merge(composition, on="paper_id").merge(
        responses[["person_id", "paper_id", "item_id", "response"]],
        on=["person_id", "paper_id", "item_id"],
        how="left",
    )
    scored = scored.merge(
        table[[*key_columns, "type", "points", "key_mask", "options_mask", "key_tf"]],
        on=key_columns,
    )
    answered = _answered(scored["response"])
    objective = scored["type"].isin(OBJECTIVE_TYPES)

    pair_columns = [*key_columns, "response"]
    pairs = scored.loc[
        objective & answered, [*pair_columns, "type", "key_mask", "options_mask", "key_tf"]
    ]
    pairs = pairs.drop_duplicates(pair_columns)
    pairs["share"] = _score_objective(pairs, rules)
    scored = scored.merge(pairs[[*pair_columns, "share"]], on=pair_columns, how="left")
    scored["score"] = scored["share"].fillna(0.0) * scored["points"]
    scored["status"] = np.where(answered, "scored", "omitted")

    scored = _apply_grades(scored, grades)
    scored = _apply_item_errors(scored, dict(item_errors or {}))
    results = _results(scored, rules)
    columns = ["person_id", "paper_id", "item_id", "type", "response", "points", "score", "status"]
    return ScoringResult(
        scored[columns],
        results,
        rules,
        {k: ItemErrorAction(v) for k, v in (item_errors or {}).items()},
    )


def _apply_grades(scored: pd.DataFrame, grades: pd.DataFrame) -> pd.DataFrame:
    """Graders' marks on subjective items: within [0, points]; a blank answer with no mark scores 0."""
    marked = scored.merge(
        grades[["person_id", "paper_id", "item_id", "score"]].rename(columns={"score": "mark"}),
        on=["person_id", "paper_id", "item_id"],
        how="left",
        indicator=True,
    )
    has_mark = marked.pop("_merge") == "both"
    objective = marked["type"].isin(OBJECTIVE_TYPES)
    if (has_mark & objective).any():
        raise _fail(
            "grader scores given for objective items; the bank scores those from its keys",
            "grader_scores.item_id",
            marked.loc[has_mark & objective, ["person_id", "paper_id", "item_id"]],
        )
    mark = pd.to_numeric(marked["mark"], errors="coerce")
    out_of_range = has_mark & ~((mark >= -TOLERANCE) & (mark <= marked["points"] + TOLERANCE))
    if out_of_range.any():
        raise _fail(
            "grader scores must be numbers between 0 and the item's points",
            "grader_scores.score",
            marked.loc[out_of_range, ["person_id", "paper_id", "item_id", "mark", "points"]],
        )
    ungraded = ~objective & ~has_mark & _answered(marked["response"])
    if ungraded.any():
        raise _fail(
            f"{int(ungraded.sum())} answered subjective item(s) have no grader score",
            "grader_scores.score",
            marked.loc[ungraded, ["person_id", "paper_id", "item_id"]],
        )
    subjective = ~objective
    marked.loc[subjective, "score"] = (
        mark[subjective].fillna(0.0).clip(0, marked.loc[subjective, "points"])
    )
    marked.loc[subjective & has_mark, "status"] = "graded"
    return marked.drop(columns="mark")


def _apply_item_errors(
    scored: pd.DataFrame, item_errors: dict[Any, ItemErrorAction | str]
) -> pd.DataFrame:
    """Item-error incidents: dropped items leave the maximum; credited items give full points to all."""
    unknown = [item for item in item_errors if not (scored["item_id"] == item).any()]
    if unknown:
        raise _fail(f"item error names item(s) not on any scored paper: {unknown}", "item_errors")
    for item, action in item_errors.items():
        hit = scored["item_id"] == item
        if ItemErrorAction(action) is ItemErrorAction.DROP:
            scored.loc[hit, ["score", "status"]] = [0.0, "dropped"]
        else:
            scored.loc[hit, "score"] = scored.loc[hit, "points"]
            scored.loc[hit, "status"] = "credited"
    return scored


def _results(scored: pd.DataFrame, rules: ScoringRules) -> pd.DataFrame:
    counted = scored.assign(max=np.where(scored["status"] == "dropped", 0.0, scored["points"]))
    results = counted.groupby(["person_id", "paper_id"], as_index=False, sort=True).agg(
        raw=("score", "sum"), max=("max", "sum")
    )
    empty = results["max"] <= 0
    if empty.any():
        raise _fail(
            "a paper has no points left after dropping items", "item_errors", results.loc[empty]
        )
    results["score_100"] = results["raw"] / results["max"] * rules.scale
    results["passed"] = results["score_100"] >= rules.pass_mark - TOLERANCE
    return results


def certify(
    results: pd.DataFrame,
    parts: Mapping[Any, str],
    *,
    level: int,
    rules: ScoringRules | None = None,
) -> pd.DataFrame:
    """Combine per-paper results into one decision per person.

    ``parts`` maps paper_id to its part (theory, practical). A person passes when every required
    part passes; at the review levels a pass means 'comprehensive_review' rather than 'certified'.
    """
    rules = rules or ScoringRules()
    _require(results, ("person_id", "paper_id", "score_100"), "results")
    tagged = results.assign(part=results["paper_id"].map(parts))
    if tagged["part"].isna().any():
        raise _fail(
            "results name papers with no part",
            "parts",
            tagged.loc[tagged["part"].isna(), ["paper_id"]],
        )
    _unique(tagged, ["person_id", "part"], "results")
    scores = tagged.pivot(index="person_id", columns="part", values="score_100")
    scores = scores.reindex(columns=list(dict.fromkeys([*rules.required_parts, *scores.columns])))
    required = scores[list(rules.required_parts)]
    passed = (required >= rules.pass_mark - TOLERANCE).all(axis=1)
    review = passed & (level in rules.review_levels)
    decision = scores.reset_index()
    decision.columns.name = None
    decision["passed"] = passed.to_numpy()
    decision["comprehensive_review"] = review.to_numpy()
    decision["outcome"] = np.select(
        [review.to_numpy(), passed.to_numpy()], ["comprehensive_review", "certified"], "failed"
    )
    return decision


def full_credit(answers: Sequence[Mapping[str, Any]]) -> list[int]:
    """1 where an objective answer earns the item's full points under the bank's scoring, else 0.

    Each answer names ``type``, ``key`` and ``response``. A CAT scores every answer this way (the
    shadow test's IRT models are dichotomous): the engine with the package's key as it runs the
    test, the bank with its own key when the log comes back, so the two must agree.
    """
    if not answers:
        return []
    rows = pd.DataFrame([{"person_id": "x", "paper_id": 0, "item_id": str(n), "response": a.get("response")}
                         for n, a in enumerate(answers)])
    keys = pd.DataFrame([{"item_id": str(n), "type": a["type"], "points": 1.0, "key": a["key"]}
                         for n, a in enumerate(answers)])
    scored = score_responses(rows, keys).responses.set_index("item_id")["score"]
    return [int(float(scored[str(n)]) >= 1 - TOLERANCE) for n in range(len(answers))]
