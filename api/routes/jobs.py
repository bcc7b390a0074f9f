"""Background jobs: state and progress from the database, so any worker can answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import col

from api.deps import Bank, BankDep, require
from api.paging import IdPath, PageDep, paginate
from api.schemas.common import Page
from api.schemas.operations import JobAccepted, JobPublic
from itembank.models import Job
from itembank.services import jobs
from itembank.services.actors import Actor

router = APIRouter(prefix="/jobs", tags=["jobs"])
JobUser = Annotated[Actor, Depends(require(*jobs.READERS))]


@router.get("")
def list_jobs(bank: BankDep, actor: JobUser, page: PageDep, status: jobs.JobStatus | None = None,
              kind: Annotated[str | None, Query(max_length=40)] = None) -> Page[JobPublic]:
    """Newest first."""
    with bank.transaction() as session:
        rows, total = paginate(session, jobs.visible_jobs(actor, status=status, kind=kind), page, col(Job.id).desc())
        return Page(items=[JobPublic.model_validate(j) for j in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{job_id}")
def get_job(job_id: IdPath, bank: BankDep, actor: JobUser) -> JobPublic:
    """A job's state, progress, and its result or error."""
    with bank.transaction() as session:
        return JobPublic.model_validate(jobs.get_job(session, actor, job_id))


def accepted(bank: Bank, job_id: IdPath | None, response: Response) -> JobAccepted:
    """After the job's row is committed: hand it to a worker thread and answer 202 with where to poll."""
    assert job_id is not None
    bank.jobs.dispatch(job_id)
    location = f"/jobs/{job_id}"
    response.headers["Location"] = location
    return JobAccepted(job_id=job_id, status=jobs.JobStatus.QUEUED, location=location)
