"""Incidents: leaks, damaged packages and item errors, each with the actions the bank took."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import BankDep, require
from api.paging import PageDep
from api.schemas.common import Page
from api.schemas.papers import IncidentPublic, ItemErrorReport, LeakReport
from itembank.models import Role
from itembank.services import incidents
from itembank.services.actors import Actor

router = APIRouter(prefix="/incidents", tags=["incidents"])
Handler = Annotated[Actor, Depends(require(*incidents.HANDLERS))]
Reader = Annotated[Actor, Depends(require(Role.BANK_MANAGER, Role.AUDITOR))]


@router.post("/leak", status_code=201)
def report_leak(body: LeakReport, bank: BankDep, actor: Handler) -> IncidentPublic:
    """Compromise the leaked items, invalidate the paper, release a disjoint backup, assemble a replacement."""
    with bank.transaction() as session:
        return IncidentPublic.model_validate(incidents.report_leak(session, actor, body.paper_id, body.scope, body.cause))


@router.post("/damage", status_code=201)
def report_damage(body: LeakReport, bank: BankDep, actor: Handler) -> IncidentPublic:
    """Re-seal the same paper for the engines named in ``scope.engines``."""
    with bank.transaction() as session:
        return IncidentPublic.model_validate(incidents.report_damage(session, actor, body.paper_id, body.scope, body.cause))


@router.post("/item-error", status_code=201)
def report_item_error(body: ItemErrorReport, bank: BankDep, actor: Handler) -> IncidentPublic:
    """Suspend the item for correction and rescore the paper by the decision (drop or credit everyone)."""
    with bank.transaction() as session:
        return IncidentPublic.model_validate(
            incidents.report_item_error(session, actor, body.paper_id, body.item_id, body.action.value, body.cause))


@router.get("")
def list_incidents(bank: BankDep, actor: Reader, page: PageDep) -> Page[IncidentPublic]:
    with bank.transaction() as session:
        rows = incidents.list_incidents(session, actor)
    shown = rows[page.offset:page.offset + page.limit]
    return Page(items=[IncidentPublic.model_validate(i) for i in shown], total=len(rows), limit=page.limit, offset=page.offset)
