"""Background jobs: run outside the request, state in the database, never lost across a restart."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from itembank.db import transaction
from itembank.errors import Conflict
from itembank.models import Job
from itembank.models.base import utcnow
from itembank.services import jobs
from itembank.services.actors import Actor

Auth = Callable[[str], dict[str, str]]
CALIBRATION = {"name": "run-1", "responses": [{"person_id": "p1", "item_id": "T-00001", "score": 1}]}


def _handler(outcome: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A stand-in operation (the job machinery is under test here, not calibration)."""

    def handle(session: Session, actor: Actor, params: dict[str, Any], progress: Callable[[float], None]) -> dict[str, Any]:
        progress(0.5)
        return outcome({"actor": actor.name, **params})

    return handle


def _run_one(client: TestClient, auth: Auth) -> dict[str, Any]:
    response = client.post("/calibration-runs", json=CALIBRATION, headers=auth("psychometrician"))
    assert response.status_code == 202, response.text
    assert response.headers["location"] == response.json()["location"] == f"/jobs/{response.json()['job_id']}"
    client.app.state.bank.jobs.drain(timeout=30)  # type: ignore[attr-defined]
    job = client.get(response.json()["location"], headers=auth("manager"))
    assert job.status_code == 200
    return dict(job.json())


def test_a_job_runs_in_the_background_and_its_result_is_in_the_database(
        client: TestClient, auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(jobs.HANDLERS, "calibration", (jobs.HANDLERS["calibration"][0],
                                                        _handler(lambda p: {"calibration_run": p["name"], "by": p["actor"]})))
    job = _run_one(client, auth)
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["kind"] == "calibration"
    assert job["result"] == {"calibration_run": "run-1", "by": "psychometrician"}
    assert job["worker"] == jobs.worker_name() and job["error"] == {}
    listing = client.get("/jobs", params={"status": "succeeded"}, headers=auth("auditor")).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == job["id"]


def _conflict(params: dict[str, Any]) -> dict[str, Any]:
    raise Conflict(f"calibration run '{params['name']}' already exists", field="name")


def _bug(params: dict[str, Any]) -> dict[str, Any]:
    raise KeyError("secret internal detail")


@pytest.mark.parametrize(("outcome", "code", "field"), [(_conflict, "conflict", "name"), (_bug, "internal_error", None)])
def test_a_failing_job_records_the_error_without_internals(
        client: TestClient, auth: Auth, monkeypatch: pytest.MonkeyPatch,
        outcome: Callable[[dict[str, Any]], dict[str, Any]], code: str, field: str | None) -> None:
    monkeypatch.setitem(jobs.HANDLERS, "calibration", (jobs.HANDLERS["calibration"][0], _handler(outcome)))
    job = _run_one(client, auth)
    assert job["status"] == "failed" and job["error"]["code"] == code and job["error"]["field"] == field
    assert "secret internal detail" not in str(job)


def test_a_role_that_cannot_start_the_job_is_refused_before_a_job_exists(client: TestClient, auth: Auth) -> None:
    response = client.post("/calibration-runs", json=CALIBRATION, headers=auth("manager"))
    assert response.status_code == 403 and response.json()["field"] == "role"
    assert client.get("/jobs", headers=auth("admin")).json()["total"] == 0


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_restart_fails_jobs_of_dead_workers_and_resumes_queued_ones(
        engine: Engine, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(jobs.HANDLERS, "calibration", (jobs.HANDLERS["calibration"][0], _handler(lambda p: {"ran": p["name"]})))
    here = socket.gethostname()
    rows = {
        "dead_here": Job(kind="calibration", status="running", worker=f"{here}:{_dead_pid()}", created_by="psychometrician",
                         updated_at=utcnow()),
        "silent_elsewhere": Job(kind="calibration", status="running", worker="other-host:1", created_by="psychometrician",
                                updated_at=utcnow() - jobs.STALE_AFTER - timedelta(minutes=1)),
        "alive_elsewhere": Job(kind="calibration", status="running", worker="other-host:2", created_by="psychometrician",
                               updated_at=utcnow()),
        "queued": Job(kind="calibration", status="queued", params={"name": "left-over"}, created_by="psychometrician"),
    }
    with transaction(engine) as session:
        session.add_all(rows.values())
    ids = {name: job.id for name, job in rows.items()}
    app = create_app(engine, migrate=False, job_threads=1)
    with TestClient(app) as client:
        app.state.bank.jobs.drain(timeout=30)
        headers = {"Authorization": f"Bearer {tokens['manager']}"}
        state = {name: client.get(f"/jobs/{job_id}", headers=headers).json() for name, job_id in ids.items()}
    assert state["dead_here"]["status"] == "failed" and "interrupted by a restart" in state["dead_here"]["error"]["message"]
    assert state["silent_elsewhere"]["status"] == "failed"
    assert state["alive_elsewhere"]["status"] == "running"
    assert state["queued"]["status"] == "succeeded" and state["queued"]["result"] == {"ran": "left-over"}


def test_only_one_worker_claims_a_job(engine: Engine, tokens: dict[str, str]) -> None:
    with transaction(engine) as session:
        job = jobs.submit(session, Actor("psychometrician", jobs.HANDLERS["calibration"][0][0]), "calibration", {})
    assert jobs.claim(engine, job.id, "a:1") is True  # type: ignore[arg-type]
    assert jobs.claim(engine, job.id, "b:2") is False  # type: ignore[arg-type]


def test_a_calibration_job_recovers_known_difficulties_and_is_approved(client: TestClient, auth: Auth) -> None:
    """The real job end to end: simulated 2PL responses in, provisional estimates out, then approval."""
    from calibration.simulate import simulate_dichotomous
    from tests.api.test_bank_routes import seed_bank

    _, ids = seed_bank(client, auth, n=8)
    rng = np.random.default_rng(11)
    a, b = rng.uniform(0.8, 1.8, len(ids)), np.linspace(-1.5, 1.5, len(ids))
    scores = simulate_dichotomous(rng.normal(size=(1500, 1)), a, b, 0.0, rng)
    log = [{"person_id": f"p{p}", "item_id": ids[i], "score": int(scores[p, i])}
           for p in range(scores.shape[0]) for i in range(len(ids))]
    started = client.post("/calibration-runs", json={"name": "spring", "model": "2PL", "responses": log},
                          headers=auth("psychometrician"))
    assert started.status_code == 202
    client.app.state.bank.jobs.drain(timeout=120)  # type: ignore[attr-defined]
    job = client.get(started.json()["location"], headers=auth("psychometrician")).json()
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["calibration_run"] == "spring"
    estimates = client.get("/calibration-runs/spring/parameters", headers=auth("manager")).json()
    found = {e["item_id"]: e for e in estimates}
    assert {e["status"] for e in estimates} == {"provisional"}
    error = np.array([found[i]["b"] for i in ids]) - b
    assert np.abs(error).max() < 0.35, error  # 1500 persons: SE(b) is about 0.08, so 0.35 is > 4 SE
    approved = client.post("/calibration-runs/spring/approve", headers=auth("psychometrician"))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = client.post("/calibration-runs", json={"name": "spring", "responses": log[:10]}, headers=auth("psychometrician"))
    client.app.state.bank.jobs.drain(timeout=60)  # type: ignore[attr-defined]
    duplicate = client.get(again.json()["location"], headers=auth("psychometrician")).json()
    assert duplicate["status"] == "failed" and duplicate["error"]["code"] == "conflict"
