"""Ability scoring from item parameters: EAP, MAP and MLE, each with a standard error.

EAP (posterior mean and sd over the quadrature grid) is the default because it exists for every
response pattern, including all-correct and all-wrong; it reuses the calibration E-step, so
``calibrate``'s person table and ``score_persons`` agree exactly. MAP and MLE are found by
Fisher scoring on θ, vectorised over all observed responses at once (bincount per person); their
standard error is 1/√information at the estimate (test information, plus 1/σ² for MAP). MLE does
not exist for all-minimum or all-maximum patterns: those persons get the grid bound and a NaN
standard error. A person whose every row in a long log is unscored (nothing administered) keeps a
row: the prior's mean and sd for EAP (its moments on the grid) and MAP, NaN for MLE, rather than
silently vanishing from the table the caller joins on.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from calibration.config import CalibrationConfig
from calibration.errors import CalibrationSpecError
from calibration.estimation.design import Design, LogTables, block_posteriors, log_tables
from calibration.estimation.families import POLYTOMOUS
from calibration.estimation.parameters import GroupDistribution, ModelState, build_blocks
from calibration.irt import FloatArray
from calibration.quadrature import Quadrature
from calibration.responses import ResponseMatrix, load_responses

_TINY = 1e-300
_MAX_NEWTON = 100


def score_persons(
    responses: ResponseMatrix | pd.DataFrame,
    items: pd.DataFrame,
    method: Literal["EAP", "MAP", "MLE"] = "EAP",
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    config: CalibrationConfig | None = None,
) -> pd.DataFrame:
    """Score persons on the scale of ``items`` (item_id, model, a, b, c, thresholds, as in ``result.items``).

    Returns person_id, theta, se (sorted by person_id), one row for every person of the log, the
    unscored ones too. The N(prior_mean, prior_sd²) prior is used by EAP and MAP.
    """
    settings = config or CalibrationConfig()
    matrix = (responses if isinstance(responses, ResponseMatrix)
              else load_responses(responses, max_scores=model_top_scores(items)))
    state = _fixed_state(matrix, items, prior_mean, prior_sd)
    reach = settings.quadrature_bound * prior_sd
    quadrature = Quadrature.rectangular(settings.quadrature_points, settings.quadrature_bound)
    if method == "EAP":
        design = Design.build(matrix, settings.min_block_size)
        theta, se = eap(design, log_tables(state, design, quadrature), quadrature, matrix.n_persons)
    elif method in ("MAP", "MLE"):
        prior = (prior_mean, prior_sd) if method == "MAP" else None
        theta, se = _modal(state, matrix, prior, bound=(prior_mean - reach, prior_mean + reach))
    else:
        raise CalibrationSpecError(f"unknown scoring method '{method}'; choose EAP, MAP or MLE", field="method")
    scored = pd.DataFrame({"person_id": matrix.person_ids.to_numpy(), "theta": theta, "se": se})
    unscored = _unscored_persons(responses, matrix)
    if not len(unscored):
        return scored
    z = quadrature.z @ quadrature.weights
    at_prior = {"EAP": (prior_mean + prior_sd * z, prior_sd * np.sqrt(quadrature.z**2 @ quadrature.weights - z**2)),
                "MAP": (prior_mean, prior_sd), "MLE": (np.nan, np.nan)}[method]
    prior_rows = pd.DataFrame({"person_id": unscored.to_numpy(), "theta": at_prior[0], "se": at_prior[1]})
    return pd.concat([scored, prior_rows], ignore_index=True).sort_values("person_id", ignore_index=True)


def _unscored_persons(responses: ResponseMatrix | pd.DataFrame, matrix: ResponseMatrix) -> pd.Index:
    """Persons of a long log whose rows are all unscored: ``load_responses`` drops those rows."""
    if isinstance(responses, ResponseMatrix) or "person_id" not in responses:
        return pd.Index([])
    return pd.Index(responses["person_id"].unique()).difference(matrix.person_ids)


def eap(design: Design, tables: LogTables, quadrature: Quadrature, n_persons: int) -> tuple[FloatArray, FloatArray]:
    """Posterior mean and sd of every person's ability over their group's nodes."""
    theta = np.empty(n_persons)
    se = np.empty(n_persons)
    for block, posterior, _ in block_posteriors(design, tables, quadrature):
        nodes = tables.nodes[block.group]
        mean = posterior @ nodes
        theta[block.persons] = mean
        se[block.persons] = np.sqrt(np.maximum(posterior @ nodes**2 - mean**2, 0.0))
    return theta, se


def _fixed_state(matrix: ResponseMatrix, items: pd.DataFrame, prior_mean: float, prior_sd: float) -> ModelState:
    """A model state with every item fixed at ``items`` and one group at the prior (groups ignored)."""
    table = items.set_index("item_id")
    missing = matrix.item_ids.difference(table.index)
    if len(missing):
        raise CalibrationSpecError(
            f"no parameters for item(s) {', '.join(map(str, missing[:5]))} in the log", field="items.item_id"
        )
    table = table.loc[matrix.item_ids]
    models = table["model"].fillna("2PL").reset_index(drop=True) if "model" in table else pd.Series(["2PL"] * len(table))
    thresholds = table["thresholds"] if "thresholds" in table else pd.Series([None] * len(table), index=table.index)
    top = model_top_scores(table.reset_index()).to_numpy().astype(int)
    if np.any(matrix.max_score > top):
        worst = matrix.item_ids[np.argmax(matrix.max_score > top)]
        raise CalibrationSpecError(f"item '{worst}' has scores above its model's top category", field="score")
    if np.any(matrix.max_score < top):
        worst = matrix.item_ids[np.argmax(matrix.max_score < top)]
        raise CalibrationSpecError(f"item '{worst}' is read with a top score below its model's; load the log "
                                   "with max_scores=model_top_scores(items)", field="score")
    fixed = table.reset_index().assign(position=np.arange(len(table)), thresholds=thresholds.to_numpy())
    if "c" not in fixed:
        fixed["c"] = 0.0
    blocks = build_blocks(models, top, fixed, np.zeros(len(table)))
    group = GroupDistribution(mean=np.full(matrix.n_groups, float(prior_mean)),
                              log_sd=np.full(matrix.n_groups, np.log(prior_sd)),
                              free_mean=np.zeros(matrix.n_groups, dtype=bool),
                              free_log_sd=np.zeros(matrix.n_groups, dtype=bool))
    return ModelState(blocks=blocks, groups=group)


def model_top_scores(items: pd.DataFrame) -> pd.Series:
    """Each item's top score under its model, by item_id: 1 for the dichotomous models, the number
    of thresholds for a polytomous one. A log is read on this scale, so an item that no one in it
    answered right still has its point to miss (read on the observed maximum it would have none)."""
    models = items["model"].fillna("2PL") if "model" in items else pd.Series("2PL", index=items.index)
    thresholds = items["thresholds"] if "thresholds" in items else pd.Series(None, index=items.index, dtype=object)
    tops = [_steps(t) if m in POLYTOMOUS else 1 for m, t in zip(models, thresholds, strict=True)]
    return pd.Series(tops, index=items["item_id"].to_numpy(), dtype=float)


def _steps(thresholds: object) -> int:
    values = np.asarray(thresholds if thresholds is not None else [], dtype=float)
    return int(np.count_nonzero(~np.isnan(values)))


def _modal(state: ModelState, matrix: ResponseMatrix, prior: tuple[float, float] | None,
           bound: tuple[float, float]) -> tuple[FloatArray, FloatArray]:
    """Fisher scoring for the posterior mode (``prior`` given) or the likelihood maximum."""
    theta = np.zeros(matrix.n_persons) if prior is None else np.full(matrix.n_persons, prior[0])
    information = np.ones(matrix.n_persons)
    for _ in range(_MAX_NEWTON):
        score, information = _theta_score(state, matrix, theta)
        if prior is not None:
            score -= (theta - prior[0]) / prior[1] ** 2
            information += 1.0 / prior[1] ** 2
        step = np.clip(score / np.maximum(information, 1e-12), -1.0, 1.0)
        theta = np.clip(theta + step, *bound)
        if np.max(np.abs(step[(theta > bound[0]) & (theta < bound[1])]), initial=0.0) < 1e-8:
            break
    score, information = _theta_score(state, matrix, theta)
    if prior is not None:
        information += 1.0 / prior[1] ** 2
    se = 1.0 / np.sqrt(np.maximum(information, 1e-12))
    if prior is None:
        at_bound = (theta <= bound[0]) | (theta >= bound[1])
        se[at_bound] = np.nan
    return theta, se


def _theta_score(state: ModelState, matrix: ResponseMatrix, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """d log L / dθ and the test information of every person at ``theta``."""
    score = np.zeros(matrix.n_persons)
    information = np.zeros(matrix.n_persons)
    for block in state.blocks:
        local = np.full(matrix.n_items, -1)
        local[block.items] = np.arange(len(block.items))
        take = local[matrix.item_index] >= 0
        person, rows, x = matrix.person_index[take], local[matrix.item_index[take]], matrix.score[take]
        params = block.params[rows]
        probs = np.maximum(block.family.probs(theta[person], params), _TINY)
        slope = block.family.theta_derivative(theta[person], params)
        valid = block.category_mask[rows]
        observed = np.arange(len(x))
        score += np.bincount(person, slope[observed, x] / probs[observed, x], minlength=matrix.n_persons)
        item_info = np.where(valid, slope**2 / probs, 0.0).sum(axis=1)
        information += np.bincount(person, item_info, minlength=matrix.n_persons)
    return score, information
