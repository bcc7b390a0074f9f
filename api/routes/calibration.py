"""Calibration runs: psychometricians start them (as jobs) and approve them; staff read the estimates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlmodel import col, select

from api.deps import BankDep, require
from api.paging import PageDep, paginate
from api.routes.jobs import accepted
from api.schemas.calibration import CalibrationRequest, CalibrationRunPublic, ItemParameterPublic
from api.schemas.common import Page
from api.schemas.operations import JobAccepted
from itembank.models import CalibrationRun, Role
from itembank.services import calibration, jobs
from itembank.services.actors import Actor

router = APIRouter(prefix="/calibration-runs", tags=["calibration runs"])
Psychometrician = Annotated[Actor, Depends(require(Role.PSYCHOMETRICIAN))]
Reader = Annotated[Actor, Depends(require(Role.PSYCHOMETRICIAN, Role.BANK_MANAGER, Role.ADMIN))]


@router.post("", status_code=202)
def start_calibration(body: CalibrationRequest, bank: BankDep, actor: Psychometrician, response: Response) -> JobAccepted:
    """Queue a calibration; poll the returned job for the run's name and summary."""
    with bank.transaction() as session:
        job = jobs.submit(session, actor, "calibration", body.model_dump())
    return accepted(bank, job.id, response)


@router.get("")
def list_runs(bank: BankDep, _actor: Reader, page: PageDep) -> Page[CalibrationRunPublic]:
    """Newest first."""
    with bank.transaction() as session:
        rows, total = paginate(session, select(CalibrationRun), page, col(CalibrationRun.id).desc())
        return Page(items=[CalibrationRunPublic.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{name}")
def get_run(name: str, bank: BankDep, _actor: Reader) -> CalibrationRunPublic:
    with bank.transaction() as session:
        return CalibrationRunPublic.model_validate(calibration.get_run(session, name))


@router.get("/{name}/parameters")
def run_parameters(name: str, bank: BankDep, _actor: Reader) -> list[ItemParameterPublic]:
    """The run's estimates per item version (provisional until the run is approved)."""
    with bank.transaction() as session:
        table = calibration.run_parameters(session, name)
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return [ItemParameterPublic.model_validate(r) for r in rows]


@router.post("/{name}/approve")
def approve_run(name: str, bank: BankDep, actor: Psychometrician) -> CalibrationRunPublic:
    """Make the run's estimates operational; earlier operational values are superseded, never changed."""
    with bank.transaction() as session:
        return CalibrationRunPublic.model_validate(calibration.approve_run(session, actor, name))
