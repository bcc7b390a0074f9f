"""Mantel–Haenszel differential item functioning between a reference and a focal group.

People are matched on total score (within the paper they sat, so multi-paper logs work): a fair
item is answered equally well by reference and focal takers of the same total. Per item the
common odds ratio ``alpha_MH`` pools the 2 × 2 tables (group × right/wrong) over score strata;
``delta = -2.35 ln alpha_MH`` puts it on the ETS delta scale (negative: the item is harder for
the focal group). The standard error of ln alpha_MH is Robins–Breslow–Greenland's.

ETS classes: A (negligible) when |delta| < 1 or the MH chi-square (continuity corrected) is not
significant at ``significance``; C (large) when |delta| >= 1.5 and |delta| is significantly
above 1 (one-sided z > 1.645); B otherwise. With ``purify`` the matching total leaves out items
classified B or C in a first pass (the studied item always stays in), so one biased item does
not bend the yardstick for the others.

Polytomous (rubric-scored) items get Mantel's ordinal chi-square and the standardised mean
difference (SMD: focal minus reference mean item score within strata, weighted by the focal
group's distribution), with the ETS classes AA / BB / CC on |SMD| / SD (SD: the item's score
standard deviation in both groups together): AA when not significant or |SMD| / SD <= 0.17,
CC when significant and |SMD| / SD > 0.25, BB otherwise (Zwick, Thayer & Mazzeo 1997).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from calibration.ctt import Responses, with_paper_totals
from calibration.errors import ResponseLogError

DELTA_SCALE = -2.35
_ONE_SIDED_Z = 1.6448536269514722


def mantel_haenszel(
    responses: Responses,
    *,
    reference: Hashable,
    focal: Hashable,
    group_column: str = "group",
    max_scores: Mapping[Hashable, float] | pd.Series | None = None,
    significance: float = 0.05,
    purify: bool = False,
) -> pd.DataFrame:
    """MH DIF for every dichotomous item: counts, alpha_MH, delta, its SE, chi², p, ETS class."""
    log = _matched_log(responses, reference, focal, group_column, max_scores)
    table = _mh_table(log, significance)
    if purify:
        biased = table.index[table["ets_class"].isin(["B", "C"])]
        flagged_score = log["score"].where(log["item_id"].isin(biased), 0.0)
        person_biased = flagged_score.groupby(log["person_id"]).transform("sum")
        log = log.assign(match=log["total"] - person_biased + flagged_score)
        table = _mh_table(log, significance)
    return table.reset_index()


def _matched_log(
    responses: Responses,
    reference: Hashable,
    focal: Hashable,
    group_column: str,
    max_scores: Mapping[Hashable, float] | pd.Series | None,
) -> pd.DataFrame:
    """The two groups' responses with the matching total and an ``is_reference`` column."""
    log = with_paper_totals(responses, max_scores)
    if group_column not in log.columns:
        raise ResponseLogError(
            f"DIF needs each response's group in column {group_column!r}", field=group_column
        )
    if (log.groupby("person_id")[group_column].nunique() > 1).any():
        raise ResponseLogError(
            f"a person has more than one value in column {group_column!r}", field=group_column
        )
    log = log[log[group_column].isin([reference, focal])]
    if not {reference, focal} <= set(log[group_column]):
        raise ResponseLogError(
            f"column {group_column!r} has no responses from group {reference!r} or {focal!r}",
            field=group_column,
        )
    return log.assign(match=log["total"], is_reference=log[group_column] == reference)


def polytomous_dif(
    responses: Responses,
    *,
    reference: Hashable,
    focal: Hashable,
    group_column: str = "group",
    max_scores: Mapping[Hashable, float] | pd.Series | None = None,
    significance: float = 0.05,
) -> pd.DataFrame:
    """Mantel chi-square, SMD, SMD / SD and ETS class (AA/BB/CC) for every polytomous item."""
    log = _matched_log(responses, reference, focal, group_column, max_scores)
    studied = log[log["max_score"] > 1].assign(square=lambda frame: frame["score"] ** 2)
    cells = (
        studied.groupby(["item_id", "paper_id", "match", "is_reference"])
        .agg(n=("score", "size"), total=("score", "sum"), square=("square", "sum"))
        .unstack("is_reference", fill_value=0)
    )
    n_ref, n_foc = cells[("n", True)].astype(float), cells[("n", False)].astype(float)
    sum_ref, sum_foc = cells[("total", True)], cells[("total", False)]
    n = n_ref + n_foc
    both_sum = sum_ref + sum_foc
    both_square = cells[("square", True)] + cells[("square", False)]
    informative = (n_ref > 0) & (n_foc > 0) & (n > 1)
    strata = pd.DataFrame(
        {
            "n_ref": n_ref,
            "n_focal": n_foc,
            "observed": sum_ref,
            "expected": n_ref * both_sum / n,
            "variance": n_ref * n_foc * (n * both_square - both_sum**2) / (n**2 * (n - 1)),
            "focal_gap": sum_foc - n_foc * sum_ref / n_ref.where(n_ref > 0),
        }
    )[informative]
    sums = strata.groupby(level="item_id").sum()
    chi2 = (sums["observed"] - sums["expected"]) ** 2 / sums["variance"]
    smd = sums["focal_gap"] / sums["n_focal"]
    spread = studied.groupby("item_id")["score"].std().reindex(sums.index)
    table = pd.DataFrame(
        {
            "n_ref": sums["n_ref"].astype(int),
            "n_focal": sums["n_focal"].astype(int),
            "chi2_mantel": chi2,
            "p_value": stats.chi2.sf(chi2, 1),
            "smd": smd,
            "smd_over_sd": smd / spread,
        }
    )
    size = table["smd_over_sd"].abs()
    significant = table["p_value"] < significance
    table["ets_class"] = np.where(
        ~significant | (size <= 0.17), "AA", np.where(size > 0.25, "CC", "BB")
    )
    table["favours"] = np.where(
        table["ets_class"] == "AA", "", np.where(table["smd"] < 0, "reference", "focal")
    )
    return table.reset_index()


def _mh_table(log: pd.DataFrame, significance: float) -> pd.DataFrame:
    studied = log[log["max_score"] == 1]
    cells = (
        studied.groupby(["item_id", "paper_id", "match", "is_reference", "score"])
        .size()
        .unstack(["is_reference", "score"], fill_value=0)
    )
    a, b, c, d = (
        cells.get((reference, score), pd.Series(0, index=cells.index)).astype(float)
        for reference, score in ((True, 1.0), (True, 0.0), (False, 1.0), (False, 0.0))
    )
    n = a + b + c + d
    n_ref, n_foc, right, wrong = a + b, c + d, a + c, b + d
    informative = (n_ref > 0) & (n_foc > 0) & (n > 1)
    strata = pd.DataFrame(
        {
            "n_ref": n_ref,
            "n_focal": n_foc,
            "r": a * d / n,
            "s": b * c / n,
            "p": (a + d) / n,
            "q": (b + c) / n,
            "a": a,
            "expected_a": n_ref * right / n,
            "var_a": n_ref * n_foc * right * wrong / (n**2 * (n - 1)).where(n > 1),
        }
    )[informative]
    strata = strata.assign(pr=strata["p"] * strata["r"], qs=strata["q"] * strata["s"])
    strata = strata.assign(ps_qr=strata["p"] * strata["s"] + strata["q"] * strata["r"])
    sums = strata.groupby(level="item_id").sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = sums["r"] / sums["s"]
        var_log_alpha = (
            sums["pr"] / (2 * sums["r"] ** 2)
            + sums["ps_qr"] / (2 * sums["r"] * sums["s"])
            + sums["qs"] / (2 * sums["s"] ** 2)
        )
        chi2 = (np.abs(sums["a"] - sums["expected_a"]) - 0.5).clip(lower=0) ** 2 / sums["var_a"]
        delta = DELTA_SCALE * np.log(alpha)
    table = pd.DataFrame(
        {
            "n_ref": sums["n_ref"].astype(int),
            "n_focal": sums["n_focal"].astype(int),
            "alpha_mh": alpha,
            "delta_mh": delta,
            "se_delta": -DELTA_SCALE * np.sqrt(var_log_alpha),
            "chi2_mh": chi2,
            "p_value": stats.chi2.sf(chi2, 1),
        }
    )
    table["ets_class"] = ets_class(
        table["delta_mh"], table["se_delta"], table["p_value"], significance
    )
    table["favours"] = np.where(
        table["ets_class"] == "A", "", np.where(table["delta_mh"] < 0, "reference", "focal")
    )
    return table


def ets_class(
    delta: pd.Series, se_delta: pd.Series, p_value: pd.Series, significance: float = 0.05
) -> pd.Series:
    """ETS A/B/C from delta, its standard error and the MH chi-square p-value."""
    size = delta.abs()
    negligible = (size < 1.0) | ~(p_value < significance)
    large = (size >= 1.5) & ((size - 1.0) / se_delta > _ONE_SIDED_Z)
    return pd.Series(
        np.where(negligible, "A", np.where(large, "C", "B")), index=delta.index, dtype=object
    )
