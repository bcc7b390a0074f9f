"""Assembly runs (as jobs) and papers: managers assemble and approve; paper readers see them, keys included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlmodel import col, select

from api.deps import BankDep, require
from api.paging import IdPath, PageDep, paginate
from api.routes.jobs import accepted
from api.schemas.common import Page
from api.schemas.operations import JobAccepted
from api.schemas.papers import (
    AssemblyRequest,
    AssemblyRunPublic,
    PaperDetail,
    PaperItemPublic,
    PaperPublic,
    PretestBlock,
    PretestRequest,
)
from itembank.errors import NotFound
from itembank.models import AssemblyRun, PaperStatus
from itembank.services import delivery, jobs, papers, responses
from itembank.services.actors import Actor

router = APIRouter(tags=["papers"])
Manager = Annotated[Actor, Depends(require(*papers.MANAGERS))]
Reader = Annotated[Actor, Depends(require(*papers.PAPER_READERS))]


@router.post("/assembly-runs", status_code=202)
def start_assembly(body: AssemblyRequest, bank: BankDep, actor: Manager, response: Response) -> JobAccepted:
    """Queue an assembly; the finished job names the run and its draft papers."""
    with bank.transaction() as session:
        job = jobs.submit(session, actor, "assembly", body.model_dump())
    return accepted(bank, job.id, response)


@router.get("/assembly-runs")
def list_assembly_runs(bank: BankDep, _actor: Reader, page: PageDep) -> Page[AssemblyRunPublic]:
    """Newest first."""
    with bank.transaction() as session:
        rows, total = paginate(session, select(AssemblyRun), page, col(AssemblyRun.id).desc())
        return Page(items=[AssemblyRunPublic.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/assembly-runs/{run_id}")
def get_assembly_run(run_id: IdPath, bank: BankDep, _actor: Reader) -> AssemblyRunPublic:
    """The spec, the bank snapshot it saw and the solver's figures."""
    with bank.transaction() as session:
        run = session.get(AssemblyRun, run_id)
        if run is None:
            raise NotFound(f"no assembly run {run_id}", field="run_id")
        return AssemblyRunPublic.model_validate(run)


@router.get("/papers")
def list_papers(bank: BankDep, actor: Reader, page: PageDep, status: PaperStatus | None = None) -> Page[PaperPublic]:
    with bank.transaction() as session:
        rows = papers.list_papers(session, actor, status.value if status else None)
    shown = rows[page.offset:page.offset + page.limit]
    return Page(items=[PaperPublic.model_validate(p) for p in shown], total=len(rows), limit=page.limit, offset=page.offset)


@router.get("/papers/{paper_id}")
def get_paper(paper_id: IdPath, bank: BankDep, actor: Reader) -> PaperDetail:
    """The paper and its items in order, with content and answer keys (bank staff only, never engines)."""
    with bank.transaction() as session:
        paper = papers.get_paper(session, paper_id)
        table = papers.paper_items(session, actor, paper_id)
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return PaperDetail(**PaperPublic.model_validate(paper).model_dump(),
                       items=[PaperItemPublic.model_validate(r) for r in rows])


@router.post("/papers/{paper_id}/pretest")
def attach_pretest(paper_id: IdPath, body: PretestRequest, bank: BankDep, actor: Manager) -> PretestBlock:
    """Give a draft or approved paper (not yet sealed) its block of unscored pretest items; replaces any earlier block."""
    with bank.transaction() as session:
        paper = responses.attach_pretest_items(session, actor, paper_id, body.items)
        return PretestBlock(paper_id=paper_id, items=paper.provenance[delivery.PRETEST])


@router.post("/papers/{paper_id}/approve")
def approve_paper(paper_id: IdPath, bank: BankDep, actor: Manager) -> PaperPublic:
    """Approve a draft paper (409 if it changed meanwhile or is no longer a draft)."""
    with bank.transaction() as session:
        return PaperPublic.model_validate(papers.approve_paper(session, actor, paper_id))
