"""The audit ledger, read-only: auditors and admins page through it and verify the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from api.deps import BankDep, require
from api.paging import PageDep, paginate
from api.schemas.common import Page
from api.schemas.operations import AuditEventPublic, LedgerCheckPublic
from itembank import audit
from itembank.models import AuditEvent, Role
from itembank.services.actors import Actor

router = APIRouter(prefix="/audit", tags=["audit"])
Auditor = Annotated[Actor, Depends(require(Role.AUDITOR, Role.ADMIN))]


@router.get("/events")
def list_events(bank: BankDep, _actor: Auditor, page: PageDep,
                entity_type: Annotated[str | None, Query(max_length=40)] = None,
                entity_id: Annotated[str | None, Query(max_length=120)] = None,
                action: Annotated[str | None, Query(max_length=80)] = None) -> Page[AuditEventPublic]:
    """Ledger events in sequence order, optionally for one entity or action."""
    query = select(AuditEvent)
    for column, value in ((AuditEvent.entity_type, entity_type), (AuditEvent.entity_id, entity_id), (AuditEvent.action, action)):
        if value is not None:
            query = query.where(column == value)
    with bank.transaction() as session:
        rows, total = paginate(session, query, page, col(AuditEvent.seq))
        return Page(items=[AuditEventPublic.model_validate(e) for e in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/verify")
def verify(bank: BankDep, _actor: Auditor) -> LedgerCheckPublic:
    """Recompute the hash chain; ``ok`` is false and ``first_bad`` names the event where it breaks."""
    with bank.transaction() as session:
        check = audit.verify(session)
    return LedgerCheckPublic(ok=check.ok, events=check.events, first_bad=check.first_bad, reason=check.reason, message=str(check))
