"""The FastAPI application: routers per resource over the bank's services, and the job pool.

    uvicorn --factory api.app:create_app      or      itembank serve --host H --port P
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine

from api import errors
from api.deps import Bank
from api.guards import RefuseNulCharacters
from api.pull_lane import PullExpressLane
from api.routes import (
    audit,
    blueprints,
    calibration,
    delivery,
    engine,
    exam_sessions,
    incidents,
    items,
    jobs,
    papers,
    results,
    reviews,
    users,
)
from api.worker import JobPool
from itembank.config import Settings, get_settings
from itembank.db import make_engine, upgrade

ROUTERS = (users.router, blueprints.router, items.router, reviews.router, papers.router, delivery.router,
           results.router, incidents.router, calibration.router, jobs.router, audit.router, engine.router,
           exam_sessions.router)


def create_app(engine: Engine | None = None, settings: Settings | None = None, *, migrate: bool = True,
               job_threads: int = 2) -> FastAPI:
    """Build the app on ``engine`` (default: the configured database).

    At start-up the schema is upgraded (unless ``migrate`` is false, for a database whose schema
    the caller made) and jobs that a dead worker left running are marked failed; queued ones resume.
    """
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    bank = Bank(engine=engine, settings=settings, jobs=JobPool(engine, threads=job_threads))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            upgrade(engine)
        bank.jobs.start()
        bank.rehearse_pulls()
        # What is alive now (the imported libraries, the app) lives as long as the process: take it
        # out of the garbage collector's full passes, which otherwise walk it all and stalled every
        # request for 130-150 ms a few times a minute under a pull storm (measured; see the load script).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            bank.jobs.shutdown()

    app = FastAPI(
        title="itembank",
        summary="Secure item bank for vocational skill-level exams",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.bank = bank
    app.add_middleware(RefuseNulCharacters)
    app.add_middleware(PullExpressLane, bank=bank)  # outermost: see api.pull_lane
    errors.install(app)
    for router in ROUTERS:
        _document_roles(router)
        app.include_router(router, responses=errors.ERROR_RESPONSES)
    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn worker processes call (``itembank serve --workers N``): settings from the environment."""
    return create_app(job_threads=int(os.environ.get("ITEMBANK_JOB_THREADS", "2")))


def _guard_roles(dependant: Dependant) -> list[str] | None:
    for dependency in dependant.dependencies:
        roles = getattr(dependency.call, "roles", None)
        if roles is not None:
            return [r.value for r in roles]
        found = _guard_roles(dependency)
        if found is not None:
            return found
    return None


def _document_roles(router: APIRouter) -> None:
    """Put each route's allowed roles in the OpenAPI document (``x-roles``), read from its guard,
    so the docs cannot drift from what is enforced. Idempotent: apps share the router objects."""
    for route in router.routes:
        if isinstance(route, APIRoute) and "x-roles" not in (route.openapi_extra or {}):
            roles = _guard_roles(route.dependant)
            if roles is not None:
                route.openapi_extra = {**(route.openapi_extra or {}), "x-roles": roles}
                route.description = f"{route.description}\n\nRoles: {', '.join(roles)}.".strip()
