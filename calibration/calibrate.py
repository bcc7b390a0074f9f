"""``calibrate``: one call from a response log to item, group and person estimates.

Marginal maximum likelihood by Bock–Aitkin EM (``estimation.em``) over a rectangular quadrature,
with one latent N(mean, sd²) per group. Scale: without fixed items the reference group is N(0, 1)
and the others are estimated through the shared items (multiple-group MML); with fixed items
(FIPC) the fixed parameters set the scale, so every group's mean and sd are free.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from calibration.config import CalibrationConfig
from calibration.errors import CalibrationSpecError, CalibrationWarning
from calibration.estimation.design import Design, e_step, log_tables
from calibration.estimation.em import run_em
from calibration.estimation.families import MODEL_FAMILIES, POLYTOMOUS
from calibration.estimation.parameters import GroupDistribution, ModelState, build_blocks
from calibration.estimation.standard_errors import (
    Covariance,
    crossproduct_covariance,
    reported_errors,
)
from calibration.quadrature import Quadrature
from calibration.responses import ResponseMatrix, load_responses
from calibration.result import ITEM_COLUMNS, CalibrationResult
from calibration.scoring import eap

ModelChoice: TypeAlias = str | Mapping[Any, str] | pd.Series


def calibrate(
    responses: ResponseMatrix | pd.DataFrame | str | Path,
    model: ModelChoice = "2PL",
    *,
    groups: bool = True,
    fixed: pd.DataFrame | None = None,
    config: CalibrationConfig | Mapping[str, Any] | None = None,
    progress: bool = False,
) -> CalibrationResult:
    """Estimate IRT item parameters (with standard errors), group distributions and EAP abilities.

    ``model`` is one of Rasch, 1PL, 2PL, 3PL, GRM, GPCM for every item, or a mapping item_id →
    model (items left out get 2PL if scored 0/1, else GRM). ``fixed`` (item_id, a, b[, c,
    thresholds, model]) holds those items at the given values: fixed-item parameter calibration.
    ``groups=False`` ignores the log's group column. Standard errors are the cross-product (XPD)
    approximation to the observed information (``se_method="crossprod"``), reported for a, b, c and
    thresholds by the delta method; persons get EAP scores with posterior sds. Raises only for bad
    input; a run that does not converge returns its estimates with ``converged=False`` and a
    ``CalibrationWarning``.
    """
    clock = {"start": time.perf_counter()}
    settings = _config(config)
    matrix = responses if isinstance(responses, ResponseMatrix) else load_responses(responses)
    if not groups:
        matrix = replace(matrix, group_ids=pd.Index(["all"], name="group"), group=np.zeros(matrix.n_persons, dtype=np.int64))
    models = _models(matrix, model)
    fixed_rows = _fixed_rows(matrix, fixed)
    if fixed_rows is not None and "model" in fixed_rows.columns:
        models.iloc[fixed_rows["position"].to_numpy()] = fixed_rows["model"].to_numpy()
        _check_models(models, matrix)
    state = ModelState(
        blocks=build_blocks(models, matrix.max_score, fixed_rows, _starting_locations(matrix)),
        groups=_group_distribution(matrix, settings, has_fixed=fixed_rows is not None, models=models),
    )
    quadrature = Quadrature.rectangular(settings.quadrature_points, settings.quadrature_bound)
    design = Design.build(matrix, settings.min_block_size)
    clock["prepare"] = time.perf_counter()
    trace = run_em(state, design, quadrature, settings, progress=progress)
    clock["em"] = time.perf_counter()
    tables = log_tables(state, design, quadrature)
    loglik = e_step(design, tables, quadrature).loglik
    covariance = (
        crossproduct_covariance(state, design, tables, quadrature, matrix, settings)
        if settings.se_method == "crossprod" else Covariance.absent(state.n_free)
    )
    clock["standard_errors"] = time.perf_counter()
    theta, theta_se = eap(design, tables, quadrature, matrix.n_persons)
    persons = pd.DataFrame({"person_id": matrix.person_ids.to_numpy(),
                            "group": matrix.group_ids.to_numpy()[matrix.group], "theta": theta, "se": theta_se})
    clock["scoring"] = time.perf_counter()
    if not trace.converged:
        warnings.warn(
            f"calibration did not converge in {trace.n_iter} EM iterations (estimated distance to the "
            f"maximum {trace.distance:.2e} > tol {settings.tol:g}); estimates are returned but flagged",
            CalibrationWarning, stacklevel=2,
        )
    return CalibrationResult(
        items=_item_table(state, matrix, covariance),
        groups=_group_table(state, matrix, covariance, settings),
        persons=persons,
        converged=trace.converged,
        n_iter=trace.n_iter,
        loglik=loglik,
        max_change=trace.max_change,
        em_rate=trace.rate,
        se_method=settings.se_method,
        timings=_timings(clock),
        n_accelerations=trace.accelerations,
    )


def _config(config: CalibrationConfig | Mapping[str, Any] | None) -> CalibrationConfig:
    if config is None:
        return CalibrationConfig()
    if isinstance(config, CalibrationConfig):
        return config
    return CalibrationConfig.model_validate(dict(config))


def _models(matrix: ResponseMatrix, model: ModelChoice) -> pd.Series:
    default = np.where(matrix.max_score > 1, "GRM", "2PL")
    if isinstance(model, str):
        models = pd.Series(model, index=matrix.item_ids, dtype=object)
    else:
        given = pd.Series(model, dtype=object)
        stray = given.index.difference(matrix.item_ids)
        if len(stray):
            raise CalibrationSpecError(
                f"model is given for item(s) not in the log: {', '.join(map(str, stray[:5]))}", field="model"
            )
        models = given.reindex(matrix.item_ids)
        models = models.where(models.notna(), pd.Series(default, index=matrix.item_ids))
    _check_models(models, matrix)
    return models.reset_index(drop=True)


def _check_models(models: pd.Series, matrix: ResponseMatrix) -> None:
    unknown = sorted(set(models) - set(MODEL_FAMILIES))
    if unknown:
        raise CalibrationSpecError(
            f"unknown model(s) {', '.join(map(str, unknown))}; choose from {', '.join(MODEL_FAMILIES)}", field="model"
        )


def _fixed_rows(matrix: ResponseMatrix, fixed: pd.DataFrame | None) -> pd.DataFrame | None:
    """Validated fixed parameters for the items present in the log, with their positions."""
    if fixed is None or not len(fixed):
        return None
    missing = [c for c in ("item_id", "a", "b") if c not in fixed.columns]
    if missing:
        raise CalibrationSpecError(f"fixed parameters lack column(s) {', '.join(missing)}", field=f"fixed.{missing[0]}")
    rows = fixed.loc[fixed["item_id"].isin(matrix.item_ids)].copy()
    if rows["item_id"].duplicated().any():
        raise CalibrationSpecError("fixed parameters list an item twice", field="fixed.item_id")
    for column in ("a", "b"):
        values = pd.to_numeric(rows[column], errors="coerce")
        if values.isna().any() and not (column == "b" and "thresholds" in rows.columns):
            raise CalibrationSpecError(f"fixed parameter '{column}' is missing or not numeric", field=f"fixed.{column}")
        rows[column] = values
    rows["c"] = pd.to_numeric(rows["c"], errors="coerce").fillna(0.0) if "c" in rows.columns else 0.0
    if "thresholds" not in rows.columns:
        rows["thresholds"] = None
    rows["position"] = matrix.item_ids.get_indexer(rows["item_id"])
    return rows.reset_index(drop=True) if len(rows) else None


def _starting_locations(matrix: ResponseMatrix) -> np.ndarray:
    """Logit of each item's mean proportion of the maximum score: a start near the final intercept."""
    totals = np.bincount(matrix.item_index, weights=matrix.score, minlength=matrix.n_items)
    share = totals / np.maximum(matrix.n_per_item * matrix.max_score, 1)
    share = np.clip(share, 0.02, 0.98)
    return 1.7 * np.log(share / (1 - share))


def _group_distribution(matrix: ResponseMatrix, config: CalibrationConfig, *, has_fixed: bool,
                        models: pd.Series) -> GroupDistribution:
    n = matrix.n_groups
    free_mean = np.ones(n, dtype=bool)
    free_sd = np.ones(n, dtype=bool)
    if not has_fixed:
        ref = _reference_index(matrix, config)
        free_mean[ref] = False
        free_sd[ref] = bool((models == "Rasch").all())
    return GroupDistribution(mean=np.zeros(n), log_sd=np.zeros(n), free_mean=free_mean, free_log_sd=free_sd)


def _reference_index(matrix: ResponseMatrix, config: CalibrationConfig) -> int:
    if config.reference_group is None:
        return 0
    position = matrix.group_ids.get_indexer([config.reference_group])[0]
    if position < 0:
        raise CalibrationSpecError(
            f"reference group '{config.reference_group}' is not in the log's groups {list(matrix.group_ids)}",
            field="config.reference_group",
        )
    return int(position)


def _item_table(state: ModelState, matrix: ResponseMatrix, covariance: Covariance) -> pd.DataFrame:
    frames = []
    for block in state.blocks:
        reported = block.family.report(block.params)
        errors = reported_errors(block, covariance)
        polytomous = block.model in POLYTOMOUS
        frames.append(pd.DataFrame({
            "position": block.items,
            "model": block.model,
            "a": reported.a,
            "b": reported.b,
            "c": reported.c,
            "thresholds": [_list(t) for t in reported.thresholds] if polytomous else None,
            "se_a": errors.a,
            "se_b": errors.b,
            "se_c": np.where(block.free[:, 2], errors.c, np.nan) if not polytomous else np.nan,
            "se_thresholds": [_list(t) for t in errors.thresholds] if polytomous else None,
            "fixed": ~block.free.any(axis=1),
        }))
    table = pd.concat(frames).sort_values("position").reset_index(drop=True)
    table.insert(0, "item_id", matrix.item_ids.to_numpy()[table["position"]])
    table["n"] = matrix.n_per_item[table["position"]]
    return table[ITEM_COLUMNS]


def _list(values: np.ndarray) -> list[float]:
    return [float(v) for v in values if not np.isnan(v)]


def _group_table(state: ModelState, matrix: ResponseMatrix, covariance: Covariance,
                 config: CalibrationConfig) -> pd.DataFrame:
    groups = state.groups
    se_mean, se_log_sd = covariance.group_errors(state)
    return pd.DataFrame({
        "group": matrix.group_ids.to_numpy(),
        "mean": groups.mean,
        "sd": groups.sd,
        "se": se_mean,
        "se_sd": se_log_sd * groups.sd,
        "n": np.bincount(matrix.group, minlength=matrix.n_groups),
        "reference": ~groups.free_mean,
    })


def _timings(clock: dict[str, float]) -> dict[str, float]:
    marks = list(clock.items())
    timings = {name: end - marks[i][1] for i, (name, end) in enumerate(marks[1:])}
    timings["total"] = marks[-1][1] - marks[0][1]
    return timings
