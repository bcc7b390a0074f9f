"""Scoring on the bank side: graders' marks, candidates' results, and rescoring after an item error."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends

from api.deps import BankDep, require
from api.paging import IdPath
from api.schemas.delivery import CandidateResult, Graded, Grades, RescoreRequest
from itembank.models import Role
from itembank.services import responses
from itembank.services.actors import Actor

router = APIRouter(prefix="/papers/{paper_id}", tags=["results"])
Scorer = Annotated[Actor, Depends(require(*responses.SCORERS))]
ResultReader = Annotated[Actor, Depends(require(*responses.SCORERS, Role.AUDITOR))]


def _results(table: pd.DataFrame) -> list[CandidateResult]:
    return [CandidateResult.model_validate(r) for r in table.astype(object).to_dict("records")]


@router.post("/grades")
def grade_subjective(paper_id: IdPath, body: Grades, bank: BankDep, actor: Scorer) -> Graded:
    """Graders' marks on subjective items, each within the item's points on this paper."""
    with bank.transaction() as session:
        return Graded(graded=responses.grade_subjective(session, actor, paper_id, [g.model_dump() for g in body.scores]))


@router.get("/results")
def paper_results(paper_id: IdPath, bank: BankDep, actor: ResultReader) -> list[CandidateResult]:
    """Each candidate's raw score, maximum, score out of 100 and pass decision."""
    with bank.transaction() as session:
        return _results(responses.paper_results(session, actor, paper_id))


@router.post("/rescore")
def rescore(paper_id: IdPath, body: RescoreRequest, bank: BankDep, actor: Scorer) -> list[CandidateResult]:
    """Apply an item-error decision (drop the item or credit everyone) and return the new results."""
    with bank.transaction() as session:
        return _results(responses.rescore(session, actor, paper_id, body.item_id, body.action))
