"""Calibration runs in the bank: estimates enter as provisional and become operational only when a
psychometrician approves the run. History is never overwritten: approval supersedes, it does not update.

Operational items are held at their bank values (fixed-item parameter calibration), so new items
land on the bank scale and drift is visible as the difference between a re-estimate and the bank value.
The model can be chosen per item type: single-choice items invite guessing (3PL with a prior on c),
true/false and multiple-choice items are usually fitted by the 2PL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

import calibration
from calibration.ctt import item_analysis
from calibration.responses import KNOWN_COLUMNS, RESPONSE_LOG
from itembank import audit
from itembank.columns import check_header
from itembank.errors import Conflict, NotFound, ValidationError
from itembank.hashing import content_hash
from itembank.models import (
    CalibrationRun,
    Item,
    ItemParameter,
    ItemStatistic,
    ItemType,
    ItemVersion,
    Role,
)
from itembank.models.base import utcnow
from itembank.models.calibration import ParameterStatus
from itembank.services.actors import Actor

PSYCHOMETRICS = (Role.PSYCHOMETRICIAN,)
DICHOTOMOUS_MODELS = ("Rasch", "1PL", "2PL", "3PL")
DEFAULT_DICHOTOMOUS_MODEL = "2PL"
GRADED_MODEL = "GRM"
ModelChoice = str | Mapping[str, str]


def _bank_items(session: Session, external_ids: list[str]) -> dict[str, tuple[Item, ItemVersion]]:
    rows = session.exec(
        select(Item, ItemVersion)
        .join(ItemVersion, (col(ItemVersion.item_id) == col(Item.id)) & (col(ItemVersion.version) == col(Item.current_version)))
        .where(col(Item.external_id).in_(external_ids))
    ).all()
    return {item.external_id: (item, version) for item, version in rows}


def operational_parameters(session: Session, item_ids: list[int]) -> pd.DataFrame:
    """The operational (approved) parameters of the given items' current versions, newest first wins."""
    rows = session.exec(
        select(ItemParameter, Item.external_id)
        .join(Item, (col(Item.id) == col(ItemParameter.item_id)) & (col(Item.current_version) == col(ItemParameter.version)))
        .where(col(ItemParameter.item_id).in_(item_ids), ItemParameter.status == ParameterStatus.OPERATIONAL.value)
        .order_by(col(ItemParameter.id))
    ).all()
    frame = pd.DataFrame([{"item_id": ext, "model": p.model, "a": p.a, "b": p.b, "c": p.c,
                           "thresholds": p.thresholds or None} for p, ext in rows],
                         columns=["item_id", "model", "a", "b", "c", "thresholds"])
    return frame.drop_duplicates("item_id", keep="last").reset_index(drop=True)


def _type_models(model: ModelChoice) -> tuple[str, dict[str, str]]:
    """The model for objective items not named by type, and the per-type choices, checked field by field."""
    if isinstance(model, str):
        return model, {}
    known = {t.value for t in ItemType if t.objective}
    for item_type, choice in model.items():
        if item_type not in known:
            raise ValidationError(f"model is given for '{item_type}', which is not an objective item type "
                                  f"({', '.join(sorted(known))})", field=f"model[{item_type}]")
        if choice not in DICHOTOMOUS_MODELS:
            raise ValidationError(f"model for {item_type} must be one of {', '.join(DICHOTOMOUS_MODELS)}, not '{choice}'",
                                  field=f"model[{item_type}]")
    return DEFAULT_DICHOTOMOUS_MODEL, dict(model)


def item_models(versions: Mapping[str, ItemVersion], model: ModelChoice) -> dict[str, str]:
    """Model per item: subjective items worth more than a point get the GRM, the rest their type's model.

    ``model`` is one model for every 0/1 item, or a mapping objective item type → model where unnamed
    types get the 2PL.
    """
    default, by_type = _type_models(model)
    return {ext: GRADED_MODEL if _graded(v) else by_type.get(str(v.type), default) for ext, v in versions.items()}


def _graded(version: ItemVersion) -> bool:
    return not ItemType(version.type).objective and version.points > 1


def _model_label(models: Mapping[str, str]) -> str:
    """The run's model column: the distinct models fitted, e.g. ``2PL/3PL/GRM``."""
    return "/".join(sorted(set(models.values())))


def run_calibration(
    session: Session,
    actor: Actor,
    name: str,
    responses: pd.DataFrame,
    model: ModelChoice = DEFAULT_DICHOTOMOUS_MODEL,
    *,
    fix_operational: bool = True,
    config: calibration.CalibrationConfig | None = None,
    progress: bool = False,
) -> CalibrationRun:
    """Estimate item parameters and classical statistics from a response log and store them as provisional.

    ``model`` is one model for every objective item or a mapping item type → model (see ``item_models``).
    Items with operational parameters keep them (and their model) when ``fix_operational`` is set.
    ``config`` overrides the calibration core's defaults (priors, convergence) and is kept in the run's summary.
    A log column that looks like a known one (``paperid``, ``groups``) is refused before anything else;
    other unknown columns are ignored, each a ``calibration.ResponseLogWarning`` of ``load_responses``
    (the command line shows them).
    """
    actor.require(*PSYCHOMETRICS, action="run calibrations")
    _refuse_taken_name(session, name)  # before the fit, to spare it
    check_header(responses.columns, KNOWN_COLUMNS, table=RESPONSE_LOG)
    if "item_id" not in responses.columns:
        raise ValidationError("the response log has no 'item_id' column", field="item_id")
    responses = responses.assign(item_id=responses["item_id"].astype(str))
    external_ids = sorted(responses["item_id"].unique())
    bank = _bank_items(session, external_ids)
    unknown = [i for i in external_ids if i not in bank]
    if unknown:
        raise ValidationError(f"{len(unknown)} item id(s) in the log are not in the bank: {', '.join(unknown[:10])}",
                              field="item_id", details=unknown)
    models = item_models({ext: v for ext, (_, v) in bank.items()}, model)
    max_scores = {ext: float(v.points) if _graded(v) else 1.0 for ext, (_, v) in bank.items()}
    matrix = calibration.load_responses(responses, known_items=list(bank), max_scores=max_scores)
    fixed = operational_parameters(session, [cast(int, i.id) for i, _ in bank.values()]) if fix_operational else None
    result = calibration.calibrate(matrix, model=models, fixed=fixed if fixed is not None and len(fixed) else None,
                                   config=config, progress=progress)
    audit.lock_head(session)  # not held during the fit: pulls and key releases wait for the head
    _refuse_taken_name(session, name)  # again, under the head: a run of this name may have been stored meanwhile
    run = CalibrationRun(
        name=name, model=_model_label(models) if isinstance(model, Mapping) else model,
        source_hash=content_hash(responses.astype(str).to_dict("list")),
        n_responses=len(responses), created_by=actor.name,
        summary=_summary(result, fixed) | {"models": dict(model) if isinstance(model, Mapping) else model,
                                           "config": None if config is None else config.model_dump(mode="json")},
    )
    session.add(run)
    session.flush()
    estimates = result.items.set_index("item_id")
    fixed_ids = set(fixed["item_id"]) if fixed is not None else set()
    session.add_all(
        ItemParameter(
            item_id=bank[ext][0].id, version=bank[ext][1].version, run_id=run.id, model=str(row["model"]),  # type: ignore[arg-type]
            a=_num(row.get("a")), b=_num(row.get("b")), c=_num(row.get("c")),
            thresholds=[float(t) for t in row["thresholds"]] if isinstance(row.get("thresholds"), list | tuple | np.ndarray) else None,
            se_a=_num(row.get("se_a")), se_b=_num(row.get("se_b")), se_c=_num(row.get("se_c")),
            n=int(row.get("n") or 0), fixed=ext in fixed_ids,
        )
        for ext, row in estimates.iterrows()
    )
    ctt = item_analysis(responses)
    session.add_all(
        ItemStatistic(item_id=bank[str(row["item_id"])][0].id, version=bank[str(row["item_id"])][1].version,  # type: ignore[arg-type]
                      run_id=run.id, n=int(row["n"]), p_value=_num(row["p_value"]),  # type: ignore[arg-type]
                      point_biserial=_num(row["point_biserial"]), flags=_flags(row.get("flags")))
        for _, row in ctt.iterrows()
    )
    audit.record(session, actor.name, "calibration.run", "calibration_run", name,
                 {"model": dict(model) if isinstance(model, Mapping) else model, "source_hash": run.source_hash, "items": len(estimates)})
    session.flush()
    return run


def _refuse_taken_name(session: Session, name: str) -> None:
    if session.exec(select(CalibrationRun.id).where(CalibrationRun.name == name)).first() is not None:
        raise Conflict(f"calibration run '{name}' already exists; runs are never overwritten", field="name")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def _flags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [f for f in value.replace(";", ",").split(",") if f]
    if isinstance(value, list | tuple):
        return [str(f) for f in value]
    return []


def _summary(result: Any, fixed: pd.DataFrame | None) -> dict[str, Any]:
    groups = getattr(result, "groups", None)
    return {
        "converged": bool(getattr(result, "converged", False)),
        "n_iter": int(getattr(result, "n_iter", 0) or 0),
        "loglik": _num(getattr(result, "loglik", None)),
        "fixed_items": 0 if fixed is None else len(fixed),
        "groups": [] if groups is None else groups.astype(object).where(groups.notna(), None).to_dict("records"),
    }


def approve_run(session: Session, actor: Actor, name: str) -> CalibrationRun:
    """Make a run's estimates operational; the previous operational values are superseded, not changed."""
    actor.require(*PSYCHOMETRICS, action="approve calibration runs")
    audit.lock_head(session)  # before the operational parameters are read: two approvals at once supersede in turn
    run = get_run(session, name)
    if run.status == "approved":
        raise Conflict(f"calibration run '{name}' is already approved", field="name")
    new = session.exec(select(ItemParameter).where(ItemParameter.run_id == run.id, ItemParameter.fixed == False)).all()  # noqa: E712
    keys = {(p.item_id, p.version) for p in new}
    for old in session.exec(select(ItemParameter).where(
            col(ItemParameter.item_id).in_([k[0] for k in keys]),
            ItemParameter.status == ParameterStatus.OPERATIONAL.value)).all():
        if (old.item_id, old.version) in keys:
            old.status = ParameterStatus.SUPERSEDED.value
            session.add(old)
    for parameter in new:
        parameter.status = ParameterStatus.OPERATIONAL.value
        session.add(parameter)
    run.status, run.approved_by, run.approved_at = "approved", actor.name, utcnow()
    session.add(run)
    audit.record(session, actor.name, "calibration.approve", "calibration_run", name, {"parameters": len(new)})
    session.flush()
    return run


def get_run(session: Session, name: str) -> CalibrationRun:
    run = session.exec(select(CalibrationRun).where(CalibrationRun.name == name)).first()
    if run is None:
        raise NotFound(f"no calibration run '{name}'", field="run")
    return run


def run_parameters(session: Session, name: str) -> pd.DataFrame:
    """A run's estimates as a tidy table keyed by external item id."""
    run = get_run(session, name)
    rows = session.exec(select(ItemParameter, Item.external_id).join(Item, col(Item.id) == col(ItemParameter.item_id))
                        .where(ItemParameter.run_id == run.id).order_by(col(ItemParameter.id))).all()
    return pd.DataFrame([{"item_id": ext, **p.model_dump(exclude={"id", "item_id", "run_id", "created_at"})}
                         for p, ext in rows])
