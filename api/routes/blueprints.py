"""Blueprints (认定要素细目表): managers import versions; bank staff read them; managers see bank health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from api.deps import BANK_STAFF, BankDep, require
from api.paging import IdPath, PageDep, paginate
from api.schemas.bank import (
    BankHealthPublic,
    BlueprintCreate,
    BlueprintDetail,
    BlueprintNodePublic,
    BlueprintPublic,
    ImportanceShare,
)
from api.schemas.common import Page
from itembank.errors import NotFound
from itembank.models import Blueprint, Role
from itembank.services import blueprints, health
from itembank.services.actors import Actor

router = APIRouter(prefix="/blueprints", tags=["blueprints"])
Staff = Annotated[Actor, Depends(require(*BANK_STAFF))]
Manager = Annotated[Actor, Depends(require(Role.BANK_MANAGER, Role.ADMIN))]
HealthReader = Annotated[Actor, Depends(require(Role.BANK_MANAGER, Role.PSYCHOMETRICIAN, Role.ADMIN))]


@router.post("", status_code=201)
def import_blueprint(body: BlueprintCreate, bank: BankDep, actor: Manager) -> BlueprintPublic:
    """Store a new blueprint version; an existing version is never replaced (409)."""
    with bank.transaction() as session:
        return BlueprintPublic.model_validate(blueprints.import_blueprint(session, actor, body.model_dump(exclude_none=True)))


@router.get("")
def list_blueprints(bank: BankDep, _actor: Staff, page: PageDep, occupation_code: str | None = None,
                    level: Annotated[int | None, Query(ge=1, le=5)] = None) -> Page[BlueprintPublic]:
    query = select(Blueprint)
    if occupation_code is not None:
        query = query.where(Blueprint.occupation_code == occupation_code)
    if level is not None:
        query = query.where(Blueprint.level == level)
    with bank.transaction() as session:
        rows, total = paginate(session, query, page, col(Blueprint.id))
        return Page(items=[BlueprintPublic.model_validate(b) for b in rows], total=total, limit=page.limit, offset=page.offset)


def _blueprint(bank: BankDep, blueprint_id: IdPath) -> Blueprint:
    with bank.transaction() as session:
        found = session.get(Blueprint, blueprint_id)
    if found is None:
        raise NotFound(f"no blueprint {blueprint_id}", field="blueprint_id")
    return found


@router.get("/{blueprint_id}")
def get_blueprint(blueprint_id: IdPath, bank: BankDep, _actor: Staff) -> BlueprintDetail:
    """The blueprint and its tree, depth first, with weights and importance."""
    found = _blueprint(bank, blueprint_id)
    with bank.transaction() as session:
        nodes = blueprints.blueprint_nodes(session, blueprint_id)
    rows = nodes.astype(object).where(nodes.notna(), None).to_dict("records")
    return BlueprintDetail(**BlueprintPublic.model_validate(found).model_dump(),
                           nodes=[BlueprintNodePublic.model_validate(r) for r in rows])


@router.get("/{blueprint_id}/health")
def bank_health(blueprint_id: IdPath, bank: BankDep, _actor: HealthReader,
                min_items: Annotated[int | None, Query(ge=0, le=100_000)] = None) -> BankHealthPublic:
    """Where the active bank is thin against this blueprint (题库结构分析)."""
    found = _blueprint(bank, blueprint_id)
    with bank.transaction() as session:
        report = health.bank_health(session, found, min_items=min_items)
    cells = report.cells.astype(object).where(report.cells.notna(), None)
    importance = report.importance.astype(object).where(report.importance.notna(), None)
    return BankHealthPublic(
        blueprint=report.blueprint, ok=report.ok, problems=report.problems, thin_elements=report.thin_elements,
        unknown_elements=report.unknown_elements,
        cells=[{str(k): v for k, v in row.items()} for row in cells.to_dict("records")],
        importance=[ImportanceShare.model_validate(r) for r in importance.to_dict("records")],
    )
