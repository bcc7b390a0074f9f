"""Sealing approved papers for exam engines, and the handover record (交接记录)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import BankDep, require
from api.paging import ROW_ID_MAX, IdPath, PageDep
from api.schemas.common import Page
from api.schemas.delivery import HandoverPublic, SealedPaperPublic, SealRequest, SigningKeyPublic
from itembank.models import Role
from itembank.services import delivery
from itembank.services.actors import Actor

router = APIRouter(tags=["delivery"])
Manager = Annotated[Actor, Depends(require(Role.BANK_MANAGER))]
HandoverReader = Annotated[Actor, Depends(require(*delivery.HANDOVER_READERS))]
KeyReader = Annotated[Actor, Depends(require(Role.ADMIN, Role.AUDITOR))]
Admin = Annotated[Actor, Depends(require(Role.ADMIN))]


@router.post("/papers/{paper_id}/seal", status_code=201)
def seal_paper(paper_id: IdPath, body: SealRequest, bank: BankDep, actor: Manager) -> SealedPaperPublic:
    """Encrypt and sign an approved paper for the named engines; a re-seal retires older packages."""
    with bank.transaction() as session:
        sealed = delivery.seal_paper(session, actor, paper_id, not_before=body.not_before, not_after=body.not_after,
                                     engines=body.engines, variant_seed=body.variant_seed, include_key=body.include_key)
        return SealedPaperPublic.model_validate(sealed)


@router.get("/handovers")
def list_handovers(bank: BankDep, actor: HandoverReader, page: PageDep,
                   paper_id: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None) -> Page[HandoverPublic]:
    """Every pull, key release and refusal, oldest first; of one paper or of all."""
    with bank.transaction() as session:
        rows = delivery.handovers(session, actor, paper_id)
    shown = rows[page.offset:page.offset + page.limit]
    return Page(items=[HandoverPublic.model_validate(h) for h in shown], total=len(rows), limit=page.limit, offset=page.offset)


@router.get("/signing-keys")
def list_signing_keys(bank: BankDep, actor: KeyReader) -> list[SigningKeyPublic]:
    """Every signing key the bank has had (public halves), oldest first; one is active."""
    with bank.transaction() as session:
        return [SigningKeyPublic.model_validate(k) for k in delivery.signing_keys(session, actor)]


@router.post("/signing-keys/rotate", status_code=201)
def rotate_signing_key(bank: BankDep, actor: Admin) -> SigningKeyPublic:
    """Retire the active signing key and make a new one; packages already sealed still verify."""
    with bank.transaction() as session:
        return SigningKeyPublic.model_validate(delivery.rotate_signing_key(session, actor))
