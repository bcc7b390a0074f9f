"""Classical item analysis: difficulty, discrimination, distractors and reliability per paper.

Bank logs are sparse: many papers share items, and each person sat exactly one paper. A person's
total (and so every rest score) is therefore the sum over the paper that person took, and
correlations are *pooled within paper*: item and rest scores are centred on their paper-item means
before they are correlated, so papers of different length or difficulty do not masquerade as
discrimination. With a single paper this is the ordinary corrected point-biserial.

Input is a long response log (``person_id, item_id, score`` and optionally ``option``,
``paper_id``), a ``ResponseMatrix``, or a dense persons × items array with NaN for unseen cells.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeAlias

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from calibration.errors import ResponseLogError
from calibration.responses import ResponseMatrix

SINGLE_PAPER = "all"

Responses: TypeAlias = pd.DataFrame | np.ndarray | ResponseMatrix


_FLAG_ORDER = (
    "too_easy",
    "too_hard",
    "negative_discrimination",
    "low_discrimination",
    "distractor_attracts_high_scorers",
    "small_sample",
)


class CTTConfig(BaseModel):
    """Thresholds for classical flags; the defaults are common certification-programme practice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    too_easy_p: float = Field(
        default=0.95, ge=0.0, le=1.0, description="p-value above this: too easy"
    )
    too_hard_p: float = Field(
        default=0.20, ge=0.0, le=1.0, description="p-value below this: too hard"
    )
    low_discrimination: float = Field(
        default=0.20, description="corrected point-biserial below this (and not negative): low"
    )
    negative_discrimination: float = Field(
        default=0.0, description="corrected point-biserial below this: negative"
    )
    extreme_group_fraction: float = Field(
        default=0.27,
        gt=0.0,
        le=0.5,
        description="share of each paper's takers in the upper/lower group",
    )
    distractor_margin: float = Field(
        default=0.0,
        ge=0.0,
        description="a distractor is flagged when its upper-group share exceeds the lower by more",
    )
    min_persons: int = Field(default=30, ge=1, description="fewer takers than this: small_sample")

    @model_validator(mode="after")
    def _ordered(self) -> CTTConfig:
        if self.too_hard_p >= self.too_easy_p:
            raise ValueError("too_hard_p must be below too_easy_p")
        if self.negative_discrimination > self.low_discrimination:
            raise ValueError("negative_discrimination must not exceed low_discrimination")
        return self


def response_log(responses: Responses) -> pd.DataFrame:
    """A validated long log (person_id, item_id, score[, option, paper_id, group]).

    A dense array becomes a log with integer person and item ids, NaN cells being unseen items;
    a ``ResponseMatrix`` gives back its log (with ``paper_id`` when it has papers).
    """
    if isinstance(responses, ResponseMatrix):
        log = responses.to_frame()
        if responses.paper is not None:
            log["paper_id"] = np.asarray(responses.paper)[responses.person_index]
        return log
    if isinstance(responses, np.ndarray):
        matrix = np.asarray(responses, dtype=float)
        if matrix.ndim != 2:
            raise ResponseLogError(
                "a dense response array must be persons × items", field="responses"
            )
        rows, cols = np.nonzero(~np.isnan(matrix))
        return pd.DataFrame({"person_id": rows, "item_id": cols, "score": matrix[rows, cols]})
    if not isinstance(responses, pd.DataFrame):
        raise ResponseLogError(
            "responses must be a long DataFrame, a ResponseMatrix or a dense numpy array",
            field="responses",
        )
    missing = {"person_id", "item_id", "score"} - set(responses.columns)
    if missing:
        raise ResponseLogError(
            f"the response log lacks column(s) {sorted(missing)}", field=sorted(missing)[0]
        )
    log = responses.dropna(subset=["score"]).reset_index(drop=True)
    if log.duplicated(["person_id", "item_id"]).any():
        first = log.loc[log.duplicated(["person_id", "item_id"]), ["person_id", "item_id"]].iloc[0]
        raise ResponseLogError(
            f"person {first.person_id} has more than one response to item {first.item_id}",
            field="person_id,item_id",
        )
    if (log["score"] < 0).any():
        raise ResponseLogError("column 'score' must be non-negative", field="score")
    return log


def with_paper_totals(
    responses: Responses,
    max_scores: Mapping[Hashable, float] | pd.Series | None = None,
) -> pd.DataFrame:
    """The log with ``paper_id``, ``max_score``, the person's paper ``total`` and ``rest`` score.

    Max scores default to a ResponseMatrix's own, else to the largest observed score of each
    item (at least 1): pass the rubric's maxima when a polytomous item may not have reached full
    marks in this sample.
    """
    if isinstance(responses, ResponseMatrix) and max_scores is None:
        max_scores = pd.Series(responses.max_score, index=responses.item_ids)
    log = response_log(responses).copy()
    if "paper_id" not in log.columns:
        log["paper_id"] = SINGLE_PAPER
    papers_per_person = log.groupby("person_id")["paper_id"].nunique()
    if (papers_per_person > 1).any():
        person = papers_per_person.index[papers_per_person > 1][0]
        raise ResponseLogError(
            f"person {person} appears in more than one paper (column 'paper_id')", field="paper_id"
        )
    observed_max = log.groupby("item_id")["score"].max().clip(lower=1.0)
    if max_scores is not None:
        given = pd.Series(max_scores, dtype=float)
        observed_max = given.reindex(observed_max.index).fillna(observed_max)
    log["max_score"] = log["item_id"].map(observed_max).astype(float)
    over = log["score"] > log["max_score"]
    if over.any():
        item = log.loc[over, "item_id"].iloc[0]
        raise ResponseLogError(
            f"item {item} has a score above its maximum (see max_scores)", field="max_scores"
        )
    log["total"] = log.groupby("person_id")["score"].transform("sum")
    log["rest"] = log["total"] - log["score"]
    return log


def _centred(log: pd.DataFrame, column: str) -> pd.Series:
    """Deviation from the paper-item mean, the building block of pooled within-paper correlation."""
    return log[column] - log.groupby(["paper_id", "item_id"])[column].transform("mean")


def _pooled_correlation(dx: pd.Series, dy: pd.Series, keys: list[pd.Series]) -> pd.Series:
    sums = pd.DataFrame({"xy": dx * dy, "xx": dx * dx, "yy": dy * dy}).groupby(keys).sum()
    denominator = np.sqrt(sums["xx"] * sums["yy"])
    return (sums["xy"] / denominator.where(denominator > 0)).astype(float)


def _flag_strings(table: pd.DataFrame, config: CTTConfig) -> pd.Series:
    conditions = {
        "too_easy": table["p_value"] > config.too_easy_p,
        "too_hard": table["p_value"] < config.too_hard_p,
        "negative_discrimination": table["point_biserial"] < config.negative_discrimination,
        "low_discrimination": table["point_biserial"].between(
            config.negative_discrimination, config.low_discrimination, inclusive="left"
        ),
        "distractor_attracts_high_scorers": table.get(
            "distractor_attracts_high_scorers", pd.Series(False, index=table.index)
        ),
        "small_sample": table["n"] < config.min_persons,
    }
    hits = pd.DataFrame({name: conditions[name].fillna(False).astype(bool) for name in _FLAG_ORDER})
    names = np.array(_FLAG_ORDER, dtype=object)
    return pd.Series(
        [",".join(names[row]) for row in hits.to_numpy()], index=table.index, dtype=object
    )


def item_analysis(
    responses: Responses,
    *,
    max_scores: Mapping[Hashable, float] | pd.Series | None = None,
    keys: Mapping[Hashable, Hashable] | None = None,
    config: CTTConfig | None = None,
    by_paper: bool = False,
) -> pd.DataFrame:
    """One row per item (per paper and item with ``by_paper``): n, p-value, corrected r_pb, flags.

    The p-value is mean score over max score, so polytomous items sit on the same 0–1 scale.
    ``flags`` is a comma-joined string of flag names (empty when clean). The distractor flag
    needs chosen options in an ``option`` column and is checked on the pooled (not per-paper)
    table.
    """
    config = config or CTTConfig()
    log = with_paper_totals(responses, max_scores)
    keys_by = ["paper_id", "item_id"] if by_paper else ["item_id"]
    grouped = log.groupby(keys_by)
    table = pd.DataFrame(
        {
            "n": grouped.size(),
            "mean_score": grouped["score"].mean(),
            "max_score": grouped["max_score"].first(),
        }
    )
    table["p_value"] = table["mean_score"] / table["max_score"]
    table["point_biserial"] = _pooled_correlation(
        _centred(log, "score"), _centred(log, "rest"), [log[k] for k in keys_by]
    )
    if "option" in log.columns and log["option"].notna().any() and not by_paper:
        options = _option_table(log, keys, config)
        attractive = options.groupby("item_id")["attracts_high_scorers"].any()
        table["distractor_attracts_high_scorers"] = attractive.reindex(
            table.index, fill_value=False
        )
    table["flags"] = _flag_strings(table, config)
    return table.drop(columns="distractor_attracts_high_scorers", errors="ignore").reset_index()


def _extreme_groups(log: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Each person's paper, total and membership of the paper's upper/lower group by total."""
    persons = log.groupby("person_id", sort=False)[["paper_id", "total"]].first()
    persons = persons.reset_index().sort_values(["paper_id", "total", "person_id"])
    rank = persons.groupby("paper_id").cumcount() + 1
    size = persons.groupby("paper_id")["person_id"].transform("size")
    group_size = np.maximum(1, np.round(fraction * size)).astype(int)
    persons["lower"] = rank <= group_size
    persons["upper"] = rank > size - group_size
    return persons.set_index("person_id")[["lower", "upper"]]


def option_analysis(
    responses: Responses,
    *,
    max_scores: Mapping[Hashable, float] | pd.Series | None = None,
    keys: Mapping[Hashable, Hashable] | None = None,
    config: CTTConfig | None = None,
) -> pd.DataFrame:
    """Distractor analysis: per item and chosen option, overall and upper/lower-group shares.

    The key is taken from ``keys`` or, failing that, is any option whose every choice earned
    full marks. ``point_biserial`` correlates choosing the option with the rest score (pooled
    within paper); a working distractor has it negative and is chosen more by the lower group.
    Upper and lower groups are the top and bottom ``extreme_group_fraction`` of each paper's
    takers by total score (ties broken by person id, so group sizes are exact).
    """
    return _option_table(with_paper_totals(responses, max_scores), keys, config or CTTConfig())


def _option_table(
    log: pd.DataFrame, keys: Mapping[Hashable, Hashable] | None, config: CTTConfig
) -> pd.DataFrame:
    if "option" not in log.columns:
        raise ResponseLogError(
            "option analysis needs the chosen option of each response in column 'option'",
            field="option",
        )
    log = log.dropna(subset=["option"]).copy()
    groups = _extreme_groups(log, config.extreme_group_fraction)
    log["upper"] = log["person_id"].map(groups["upper"]).astype(bool)
    log["lower"] = log["person_id"].map(groups["lower"]).astype(bool)
    log["rest_dev"] = _centred(log, "rest")

    by_option = log.groupby(["item_id", "option"])
    table = pd.DataFrame(
        {
            "n": by_option.size(),
            "n_upper": by_option["upper"].sum(),
            "n_lower": by_option["lower"].sum(),
            "mean_score": by_option["score"].mean(),
            "max_score": by_option["max_score"].first(),
            "rest_cov": by_option["rest_dev"].sum(),
        }
    )
    item_totals = log.groupby("item_id").agg(
        takers=("score", "size"),
        upper=("upper", "sum"),
        lower=("lower", "sum"),
        rest_ss=("rest_dev", lambda d: float((d * d).sum())),
    )
    per_item = item_totals.reindex(table.index.get_level_values("item_id"))
    table["proportion"] = table["n"] / per_item["takers"].to_numpy()
    table["proportion_upper"] = table["n_upper"] / per_item["upper"].to_numpy()
    table["proportion_lower"] = table["n_lower"] / per_item["lower"].to_numpy()
    table["discrimination"] = table["proportion_upper"] - table["proportion_lower"]

    paper_counts = log.groupby(["paper_id", "item_id", "option"]).size().rename("k").reset_index()
    paper_takers = log.groupby(["paper_id", "item_id"]).size().rename("m")
    paper_counts = paper_counts.join(paper_takers, on=["paper_id", "item_id"])
    indicator_ss = (
        (paper_counts["k"] * (1.0 - paper_counts["k"] / paper_counts["m"]))
        .groupby([paper_counts["item_id"], paper_counts["option"]])
        .sum()
    )
    denominator = np.sqrt(
        indicator_ss.reindex(table.index).to_numpy() * per_item["rest_ss"].to_numpy()
    )
    table["point_biserial"] = table["rest_cov"] / np.where(denominator > 0, denominator, np.nan)

    if keys is not None:
        option_keys = pd.Series(keys)
        item_level = table.index.get_level_values("item_id")
        table["is_key"] = (
            table.index.get_level_values("option") == option_keys.reindex(item_level).to_numpy()
        )
    else:
        table["is_key"] = np.isclose(table["mean_score"], table["max_score"])
    table["attracts_high_scorers"] = ~table["is_key"] & (
        table["discrimination"] > config.distractor_margin
    )
    columns = [
        "is_key", "n", "proportion", "proportion_upper", "proportion_lower",
        "discrimination", "point_biserial", "attracts_high_scorers",
    ]  # fmt: skip
    return table[columns].reset_index()


def reliability(
    responses: Responses,
    *,
    max_scores: Mapping[Hashable, float] | pd.Series | None = None,
) -> pd.DataFrame:
    """Cronbach's alpha (KR-20 on all-0/1 papers) and the standard error of measurement per paper.

    Item (co)variances are pairwise within the paper, so a person who skipped an item still
    counts for the others rather than being dropped; on complete data this is textbook alpha.
    KR-20 is reported only where every item of the paper is scored 0/1, where it equals alpha.
    """
    log = with_paper_totals(responses, max_scores)
    rows = []
    for paper_id, paper_log in log.groupby("paper_id", sort=True):
        matrix = paper_log.pivot(index="person_id", columns="item_id", values="score")
        covariance = matrix.cov(min_periods=2).to_numpy()
        n_items = matrix.shape[1]
        total_variance = covariance.sum()
        item_variance = np.trace(covariance)
        alpha = (
            n_items / (n_items - 1) * (1.0 - item_variance / total_variance)
            if n_items > 1 and total_variance > 0
            else np.nan
        )
        dichotomous = bool((paper_log.groupby("item_id")["max_score"].first() == 1).all())
        totals = paper_log.groupby("person_id")["total"].first()
        rows.append(
            {
                "paper_id": paper_id,
                "n_persons": matrix.shape[0],
                "n_items": n_items,
                "mean_total": float(totals.mean()),
                "sd_total": float(np.sqrt(total_variance)) if total_variance >= 0 else np.nan,
                "alpha": alpha,
                "kr20": _kr20(matrix) if dichotomous else np.nan,
                "sem": float(np.sqrt(total_variance * (1.0 - alpha))) if alpha <= 1 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _kr20(matrix: pd.DataFrame) -> float:
    """KR-20 from item p-values, with the same n/(n-1) variance convention as alpha."""
    counts = matrix.notna().sum()
    p = matrix.mean()
    item_variance = float((p * (1.0 - p) * counts / (counts - 1)).sum())
    total_variance = float(matrix.cov(min_periods=2).to_numpy().sum())
    k = matrix.shape[1]
    if k < 2 or total_variance <= 0:
        return float("nan")
    return k / (k - 1) * (1.0 - item_variance / total_variance)
