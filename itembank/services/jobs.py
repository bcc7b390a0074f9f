"""Long jobs (paper assembly, calibration) whose whole state lives in the database.

    queued ──claim──► running ──► succeeded
                         │   └──► failed   (domain error, bug, or "interrupted by a restart")

Any API worker can answer for any job because nothing is kept in a worker's memory: the request
stores the job ``queued``, a worker claims it with one conditional UPDATE (so two workers never run
the same job), runs the business operation in its own transaction, and records the outcome in
another. A worker that dies leaves ``running`` rows behind; the next start marks them failed, so a
job is never silently lost.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pandas as pd
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from itembank import audit
from itembank.db import transaction
from itembank.errors import ItemBankError, NotFound, ValidationError
from itembank.models import Job, Role
from itembank.models.base import as_utc, utcnow
from itembank.progress import Progress
from itembank.services.actors import Actor

log = logging.getLogger(__name__)

Handler = Callable[[Session, Actor, dict[str, Any], Progress], dict[str, Any]]

INTERRUPTED = "interrupted by a restart"
STALE_AFTER = timedelta(minutes=10)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _assemble(session: Session, actor: Actor, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from itembank.services import papers

    blueprint = {k: params[k] for k in ("occupation_code", "level", "exam_kind", "blueprint_version") if k in params}
    outcome = papers.assemble(session, actor, params["spec"], **blueprint, progress=progress)
    return {"assembly_run_id": outcome.run.id, "status": outcome.run.status, "papers": [p.id for p in outcome.papers]}


def _calibrate(session: Session, actor: Actor, params: dict[str, Any], _progress: Progress) -> dict[str, Any]:
    from itembank.services import calibration

    run = calibration.run_calibration(
        session, actor, params["name"], pd.DataFrame(params["responses"]), params.get("model", "2PL"),
        fix_operational=params.get("fix_operational", True),
    )
    return {"calibration_run": run.name, "status": run.status, "summary": run.summary}


HANDLERS: dict[str, tuple[tuple[Role, ...], Handler]] = {
    "assembly": ((Role.BANK_MANAGER,), _assemble),
    "calibration": ((Role.PSYCHOMETRICIAN,), _calibrate),
}
"""Job kind → (roles that may submit it, the operation that runs it)."""

READERS = (Role.BANK_MANAGER, Role.PSYCHOMETRICIAN, Role.ADMIN, Role.AUDITOR)


def worker_name() -> str:
    """This process as a job worker: host and pid, so a restart on the same host can tell its dead self."""
    return f"{socket.gethostname()}:{os.getpid()}"


def submit(session: Session, actor: Actor, kind: str, params: dict[str, Any]) -> Job:
    """Queue a job; the role is checked now so a refused job never reaches a worker."""
    if kind not in HANDLERS:
        raise ValidationError(f"unknown job kind '{kind}'; choose one of {', '.join(HANDLERS)}", field="kind")
    roles, _ = HANDLERS[kind]
    actor.require(*roles, action=f"start {kind} jobs")
    job = Job(kind=kind, params=params, created_by=actor.name, updated_at=utcnow())
    session.add(job)
    session.flush()
    audit.record(session, actor.name, "job.submit", "job", job.id or 0, {"kind": kind})
    return job


def get_job(session: Session, actor: Actor, job_id: int) -> Job:
    """A job for its submitter or a reader of jobs."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}", field="job_id")
    if job.created_by != actor.name:
        actor.require(*READERS, action="see other users' jobs")
    return job


def visible_jobs(actor: Actor, *, status: JobStatus | None = None, kind: str | None = None) -> SelectOfScalar[Job]:
    """The jobs ``actor`` may see (readers all, others their own), to be paged by the caller."""
    query = select(Job)
    if actor.role not in READERS:
        query = query.where(Job.created_by == actor.name)
    if status is not None:
        query = query.where(Job.status == status.value)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return query


def queued_ids(engine: Engine) -> list[int]:
    with transaction(engine) as session:
        return [i for i in session.exec(select(Job.id).where(Job.status == JobStatus.QUEUED.value).order_by(col(Job.id))).all() if i]


def claim(engine: Engine, job_id: int, worker: str) -> bool:
    """Take a queued job for this worker; False if another worker (or an earlier call) got it first."""
    with transaction(engine) as session:
        taken = session.exec(
            update(Job).where(col(Job.id) == job_id, col(Job.status) == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value, worker=worker, updated_at=utcnow())
        )
        return bool(taken.rowcount == 1)


def _finish(engine: Engine, job_id: int, status: JobStatus, *, result: dict[str, Any] | None = None,
            error: dict[str, Any] | None = None) -> None:
    with transaction(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.updated_at = status.value, utcnow()
        job.progress = 1.0 if status == JobStatus.SUCCEEDED else job.progress
        job.result, job.error = result or {}, error or {}
        session.add(job)
        audit.record(session, "system", f"job.{status.value}", "job", job_id,
                     {"kind": job.kind, "worker": job.worker, "error": job.error.get("code")})


def report_progress(engine: Engine, job_id: int, fraction: float) -> None:
    """Record progress (0–1); doubles as the worker's heartbeat.

    It commits on its own, so an operation reports progress before it starts writing: on SQLite
    (one writer) a report made while the operation holds the write lock would wait for it.
    """
    with transaction(engine) as session:
        session.exec(update(Job).where(col(Job.id) == job_id)
                     .values(progress=min(max(fraction, 0.0), 1.0), updated_at=utcnow()))


def run(engine: Engine, job_id: int, worker: str) -> None:
    """Claim and run one job; the operation gets its own transaction and its outcome another.

    A domain error is the job's result (stored with its code, message and field); any other exception
    is a bug: it is logged with its trace and the job shows only that it failed unexpectedly.
    """
    if not claim(engine, job_id, worker):
        return
    with transaction(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        kind, params, owner = job.kind, dict(job.params), job.created_by
    try:
        with transaction(engine) as session:
            from itembank.services.users import get_actor

            actor = get_actor(session, owner)
            _, handler = HANDLERS[kind]
            result = handler(session, actor, params, lambda f: report_progress(engine, job_id, f))
    except ItemBankError as error:
        _finish(engine, job_id, JobStatus.FAILED, error=error.to_dict())
    except ValueError as error:  # the pure cores' input errors co-inherit ValueError and speak to the user
        _finish(engine, job_id, JobStatus.FAILED,
                error={"code": "validation_error", "message": str(error), "field": getattr(error, "field", None)})
    except Exception:  # noqa: BLE001 - a job must end failed, never stay running
        log.exception("job %s (%s) failed unexpectedly", job_id, kind)
        _finish(engine, job_id, JobStatus.FAILED,
                error={"code": "internal_error", "message": "the job failed unexpectedly; see the server log", "field": None})
    else:
        _finish(engine, job_id, JobStatus.SUCCEEDED, result=result)


def _worker_is_dead(worker: str, heartbeat: Any, this_worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if worker == this_worker:
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    beat = as_utc(heartbeat)
    return beat is None or utcnow() - beat > STALE_AFTER


def fail_interrupted(engine: Engine, this_worker: str) -> list[int]:
    """At start-up: jobs left running by a dead worker become failed ("interrupted by a restart").

    A worker on this host is dead when its process is gone; one on another host when it has not
    reported for ``STALE_AFTER``. Live workers' jobs are left alone.
    """
    with transaction(engine) as session:
        running = session.exec(select(Job).where(Job.status == JobStatus.RUNNING.value)).all()
        dead = [j for j in running if _worker_is_dead(j.worker, j.updated_at, this_worker)]
        for job in dead:
            job.status, job.updated_at = JobStatus.FAILED.value, utcnow()
            job.error = {"code": "interrupted", "message": f"{INTERRUPTED} (worker {job.worker})", "field": None}
            session.add(job)
            audit.record(session, "system", "job.interrupted", "job", job.id or 0,
                         {"worker": job.worker, "noticed_by": this_worker})
        return [j.id for j in dead if j.id is not None]
