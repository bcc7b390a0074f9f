"""Storing and finding blueprints (认定要素细目表) and their versions."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from itembank import audit
from itembank.blueprint import BlueprintSpec, parse_blueprint
from itembank.errors import Conflict, NotFound
from itembank.models import Blueprint, BlueprintNode, Role
from itembank.services.actors import Actor


def import_blueprint(session: Session, actor: Actor, document: dict[str, Any]) -> Blueprint:
    """Validate and store a new blueprint version; an existing version is never replaced."""
    actor.require(Role.BANK_MANAGER, Role.ADMIN, action="import blueprints")
    spec = parse_blueprint(document)
    audit.lock_head(session)  # before the clash check: one version imported twice at once is stored once, then a 409
    clash = session.exec(
        select(Blueprint).where(
            Blueprint.occupation_code == spec.occupation_code,
            Blueprint.level == spec.level,
            Blueprint.exam_kind == spec.exam_kind,
            Blueprint.version == spec.version,
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"blueprint {spec.occupation_code} level {spec.level} {spec.exam_kind} version "
            f"{spec.version} already exists; give the new table a new version",
            field="version",
        )
    return _store(session, actor, spec)


def _store(session: Session, actor: Actor, spec: BlueprintSpec) -> Blueprint:
    blueprint = Blueprint(
        occupation=spec.occupation,
        occupation_code=spec.occupation_code,
        level=spec.level,
        level_name=spec.level_name,
        exam_kind=spec.exam_kind,
        version=spec.version,
        source=spec.source,
        content_hash=spec.content_hash(),
    )
    session.add(blueprint)
    session.flush()
    assert blueprint.id is not None
    session.add_all(
        BlueprintNode(
            blueprint_id=blueprint.id,
            code=n.code,
            name=n.name,
            depth=n.depth,
            parent_code=n.parent_code,
            weight=n.weight,
            absolute_weight=n.absolute_weight,
            importance=n.importance,
            position=n.position,
        )
        for n in spec.nodes()
    )
    audit.record(
        session, actor.name, "blueprint.import", "blueprint", blueprint.id,
        {"code": spec.occupation_code, "level": spec.level, "version": spec.version, "hash": blueprint.content_hash},
    )
    return blueprint


def find_blueprint(
    session: Session, occupation_code: str, level: int, exam_kind: str = "theory", version: str | None = None
) -> Blueprint:
    """The named version, or the newest one when no version is given."""
    query = select(Blueprint).where(
        Blueprint.occupation_code == occupation_code, Blueprint.level == level, Blueprint.exam_kind == exam_kind
    )
    if version is not None:
        query = query.where(Blueprint.version == version)
    found = session.exec(query.order_by(col(Blueprint.id).desc())).first()
    if found is None:
        what = f"{occupation_code} level {level} {exam_kind}" + (f" version {version}" if version else "")
        raise NotFound(f"no blueprint for {what}; import one with `itembank blueprint import`", field="blueprint")
    return found


def blueprint_nodes(session: Session, blueprint_id: int) -> pd.DataFrame:
    """The blueprint's nodes as a table (code, name, depth, parent, weights, importance, is_element)."""
    nodes = session.exec(
        select(BlueprintNode).where(BlueprintNode.blueprint_id == blueprint_id).order_by(col(BlueprintNode.id))
    ).all()
    frame = pd.DataFrame([n.model_dump() for n in nodes])
    if frame.empty:
        return frame
    parents = set(frame["parent_code"].dropna())
    frame["is_element"] = ~frame["code"].isin(parents)
    return frame.drop(columns=["id", "blueprint_id"])
