"""Exam sessions in bank mode: managers assemble LOFT sessions and CAT pools; paper readers see them.

The carrier paper each session names is approved, sealed and pulled through the paper routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Path

from api.deps import Bank, BankDep, require
from api.paging import IdPath
from api.schemas.exam_sessions import (
    CandidateFormPublic,
    CatSessionRequest,
    ExamSessionPublic,
    LoftSessionRequest,
    SessionResult,
)
from itembank.models.exam_session import ExamSession
from itembank.services import exam_results, exam_sessions
from itembank.services.actors import Actor

router = APIRouter(prefix="/exam-sessions", tags=["exam sessions"])
Manager = Annotated[Actor, Depends(require(*exam_sessions.MANAGERS))]
Reader = Annotated[Actor, Depends(require(*exam_sessions.READERS))]
ResultReader = Annotated[Actor, Depends(require(*exam_results.RESULT_READERS))]
TicketPath = Annotated[str, Path(min_length=1, max_length=64, description="准考证号")]


@router.post("/loft", status_code=201)
def assemble_loft(body: LoftSessionRequest, bank: BankDep, actor: Manager) -> ExamSessionPublic:
    """One verified, score-equivalent paper per ticket (一人一卷) on a draft carrier paper."""
    return _create(exam_sessions.assemble_loft_session, body, bank, actor)


@router.post("/cat", status_code=201)
def build_cat_pool(body: CatSessionRequest, bank: BankDep, actor: Manager) -> ExamSessionPublic:
    """A CAT pool from the calibrated active items on a draft carrier paper; its sealed package holds the keys."""
    return _create(exam_sessions.build_cat_pool, body, bank, actor)


@router.get("/{session_id}")
def get_exam_session(session_id: IdPath, bank: BankDep, actor: Reader) -> ExamSessionPublic:
    with bank.transaction() as session:
        return ExamSessionPublic.model_validate(exam_sessions.describe(session, actor, session_id))


@router.get("/{session_id}/forms/{ticket}")
def get_form(session_id: IdPath, ticket: TicketPath, bank: BankDep, actor: Reader) -> CandidateFormPublic:
    """One ticket's form: its items in order and the hash the package carries (CAT: once its log is in)."""
    with bank.transaction() as session:
        return CandidateFormPublic.model_validate(exam_sessions.candidate_form(session, actor, session_id, ticket))


@router.get("/{session_id}/results")
def session_results(session_id: IdPath, bank: BankDep, actor: ResultReader) -> list[SessionResult]:
    """Each ticket's result: LOFT on the candidate's own paper, CAT on the reference paper at θ̂."""
    with bank.transaction() as session:
        table = exam_results.session_results(session, actor, session_id)
    rows = table.astype(object).where(pd.notna(table), None).to_dict("records")
    return [SessionResult.model_validate(r) for r in rows]


def _create(build: Callable[..., ExamSession], body: LoftSessionRequest | CatSessionRequest,
            bank: Bank, actor: Actor) -> ExamSessionPublic:
    """Build a session from the request's spec, tickets and options and describe it, in one transaction."""
    options = body.model_dump(exclude={"spec", "tickets"})
    with bank.transaction() as session:
        exam = build(session, actor, body.spec, body.tickets, **options)
        assert exam.id is not None  # the service flushed the new row
        return ExamSessionPublic.model_validate(exam_sessions.describe(session, actor, exam.id))
