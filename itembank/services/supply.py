"""The active bank as the assembler sees it: one row per usable item, in the assembly core's columns.

Parameters come only from approved (operational) calibration runs, so an unapproved run changes nothing
the assembler sees; classical p-values likewise.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from itembank.hashing import content_hash
from itembank.models import (
    Blueprint,
    BlueprintNode,
    EnemyGroup,
    EnemyMember,
    Item,
    ItemParameter,
    ItemSet,
    ItemStatistic,
    ItemStatus,
    ItemVersion,
)
from itembank.models.calibration import ParameterStatus

COLUMNS = ["item_id", "type", "points", "element", "importance", "set_id", "enemy_groups", "exposure",
           "last_used", "a", "b", "c", "p_value", "difficulty", "version"]


def active_item_table(session: Session, blueprint: Blueprint) -> pd.DataFrame:
    """Every active item of the blueprint's bank, keyed by external id, with operational statistics."""
    rows = session.exec(
        select(Item, ItemVersion)
        .join(ItemVersion, (col(ItemVersion.item_id) == col(Item.id)) & (col(ItemVersion.version) == col(Item.current_version)))
        .where(Item.status == ItemStatus.ACTIVE.value, Item.occupation_code == blueprint.occupation_code,
               Item.level == blueprint.level, Item.exam_kind == blueprint.exam_kind)
        .order_by(col(Item.id))
    ).all()
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    ids = [item.id for item, _ in rows]
    importance = dict(session.exec(
        select(BlueprintNode.code, BlueprintNode.importance).where(BlueprintNode.blueprint_id == blueprint.id)).all())
    sets = dict(session.exec(select(ItemSet.id, ItemSet.external_id)).all())
    enemies: dict[int, list[str]] = {}
    for item_id, name in session.exec(
        select(EnemyMember.item_id, EnemyGroup.name).join(EnemyGroup).where(col(EnemyMember.item_id).in_(ids))
    ).all():
        enemies.setdefault(item_id, []).append(name)
    parameters = _latest(session, ItemParameter, ids, ItemParameter.status == ParameterStatus.OPERATIONAL.value)
    statistics = _latest(session, ItemStatistic, ids, None)
    table = pd.DataFrame({
        "item_id": [item.external_id for item, _ in rows],
        "type": [str(v.type) for _, v in rows],
        "points": [v.points for _, v in rows],
        "element": [v.element for _, v in rows],
        "importance": [importance.get(v.element) for _, v in rows],
        "set_id": [sets.get(item.set_id) if item.set_id else None for item, _ in rows],
        "enemy_groups": [";".join(sorted(enemies.get(item.id, []))) for item, _ in rows],  # type: ignore[arg-type]
        "exposure": [item.exposure_count for item, _ in rows],
        "last_used": pd.to_datetime([item.last_used for item, _ in rows], utc=True),
        "a": [_get(parameters, item, "a") for item, _ in rows],
        "b": [_get(parameters, item, "b") for item, _ in rows],
        "c": [_get(parameters, item, "c") for item, _ in rows],
        "p_value": [_get(statistics, item, "p_value") for item, _ in rows],
        "difficulty": [v.difficulty for _, v in rows],
        "version": [v.version for _, v in rows],
    })
    return table.astype({"a": float, "b": float, "c": float, "p_value": float})


def _latest(session: Session, model: type[ItemParameter] | type[ItemStatistic], ids: list[int | None],
            condition: object) -> dict[tuple[int, int], object]:
    """Newest row per (item, version), optionally filtered (e.g. operational parameters only)."""
    query = select(model).where(col(model.item_id).in_(ids))
    if condition is not None:
        query = query.where(condition)  # type: ignore[arg-type]
    latest: dict[tuple[int, int], object] = {}
    for row in session.exec(query.order_by(col(model.id))).all():
        record = cast(ItemParameter | ItemStatistic, row)
        latest[(record.item_id, record.version)] = record
    return latest


def _get(rows: dict[tuple[int, int], object], item: Item, field: str) -> float:
    row = rows.get((item.id, item.current_version))  # type: ignore[arg-type]
    value = getattr(row, field, None) if row is not None else None
    return float(value) if value is not None else np.nan


def snapshot_hash(table: pd.DataFrame) -> str:
    """A hash of what the assembler saw, recorded with every paper for provenance."""
    seen = table.drop(columns=["last_used"])
    return content_hash(seen.astype(object).where(seen.notna(), None).to_dict("records"))
