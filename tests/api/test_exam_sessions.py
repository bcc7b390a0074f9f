"""The exam-session routes: LOFT sessions and CAT pools assembled, shown without content or keys, delivered
through the paper routes, run offline by the reference client's package, sent back and scored."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from itembank.adaptive import TamperedLog
from itembank.engine_client import EngineClient
from itembank.engine_offline import CatPackage, LoftPackage, open_session
from itembank.models import Role
from itembank.services.actors import Actor
from tests.api.conftest import seal_window
from tests.itembank.conftest import load_calibrated_bank
from tests.itembank.test_exam_sessions import SPEC, TICKETS, run_cat

Auth = Callable[[str], dict[str, str]]


@pytest.fixture
def bank_client(engine: Engine, client: TestClient) -> TestClient:
    load_calibrated_bank(engine, Actor("admin", Role.ADMIN))
    return client


def deliver(client: TestClient, auth: Auth, token: str, paper_id: int) -> dict:
    """Approve and seal the carrier through the paper routes; the reference client pulls and opens it."""
    assert client.post(f"/papers/{paper_id}/approve", headers=auth("manager")).status_code == 200
    sealed = client.post(f"/papers/{paper_id}/seal", json={**seal_window(), "engines": ["engine1"]},
                         headers=auth("manager"))
    assert sealed.status_code == 201, sealed.text
    engine_client = EngineClient(str(client.base_url), token, http=client, retries=0)
    return engine_client.open(paper_id, engine_client.pull(paper_id))


def test_a_loft_session_over_http(bank_client: TestClient, auth: Auth, tokens: dict[str, str]) -> None:
    client = bank_client
    tickets = TICKETS[:6]
    body = {"spec": SPEC, "tickets": tickets, "max_exposure": 0.5, "max_mean_overlap": 0.3, "seed": 3}
    for wrong, field in (({"tickets": ["A1", "A1"]}, "tickets"), ({"max_exposure": 2}, "max_exposure"),
                         ({"tickets": TICKETS, "max_exposure": 0.05}, "max_exposure"),
                         ({"spec": {**SPEC, "total_points": "x"}}, "total_points")):
        refused = client.post("/exam-sessions/loft", json={**body, **wrong}, headers=auth("manager"))
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
    made = client.post("/exam-sessions/loft", json=body, headers=auth("manager"))
    assert made.status_code == 201, made.text
    exam = made.json()
    assert (exam["mode"], exam["status"], exam["forms"], exam["tickets"]) == ("loft", "draft", 6, tickets)
    shown = client.get(f"/exam-sessions/{exam['id']}", headers=auth("auditor"))
    assert shown.status_code == 200 and shown.json()["paper_id"] == exam["paper_id"]
    form = client.get(f"/exam-sessions/{exam['id']}/forms/{tickets[0]}", headers=auth("psychometrician")).json()
    missing = client.get(f"/exam-sessions/{exam['id']}/forms/NOBODY", headers=auth("auditor"))
    assert missing.status_code == 404 and missing.json()["field"] == "ticket"

    none_yet = client.get(f"/exam-sessions/{exam['id']}/results", headers=auth("auditor"))
    assert none_yet.status_code == 200 and none_yet.json() == []
    offline = open_session(deliver(client, auth, tokens["engine1"], exam["paper_id"]))
    assert isinstance(offline, LoftPackage) and offline.form(tickets[0])["form_hash"] == form["form_hash"]
    rows = [{"person_id": t, "item_id": i, "response": "A"} for t in tickets for i in offline.forms[t]]
    submitted = client.post(f"/engine/papers/{exam['paper_id']}/responses", json={"batch_id": "loft", "responses": rows},
                            headers=auth("engine1"))
    assert submitted.status_code == 200, submitted.text
    results = client.get(f"/exam-sessions/{exam['id']}/results", headers=auth("auditor"))
    assert results.status_code == 200 and [r["ticket"] for r in results.json()] == tickets
    assert all(r["max"] == 100 and 0 < r["raw"] < 100 for r in results.json())


def test_a_cat_pool_over_http(bank_client: TestClient, auth: Auth, tokens: dict[str, str]) -> None:
    client = bank_client
    tickets = TICKETS[:3]
    made = client.post("/exam-sessions/cat", json={"spec": SPEC, "tickets": tickets, "length": 12, "share": 0.5,
                                                   "max_exposure": 0.5, "seed": 2}, headers=auth("manager"))
    assert made.status_code == 201, made.text
    exam = made.json()
    shown = client.get(f"/exam-sessions/{exam['id']}", headers=auth("auditor"))
    assert exam["pool_items"] > 100 and "answer_key" not in shown.text and "stem" not in shown.text
    opened = deliver(client, auth, tokens["engine1"], exam["paper_id"])
    offline = open_session(opened)
    assert isinstance(offline, CatPackage)
    run_cat(offline, opened, tickets[0], 0.3, np.random.default_rng(1))
    log = offline.logs()[tickets[0]]
    engine_client = EngineClient(str(client.base_url), tokens["engine1"], http=client, retries=0)
    tampered = [dict(e) for e in log]
    tampered[1]["theta"] += 0.5
    with pytest.raises(TamperedLog) as refused:
        engine_client.submit_cat_log(exam["id"], tickets[0], tampered)
    assert refused.value.field == "log[1].theta"
    form = engine_client.submit_cat_log(exam["id"], tickets[0], log)
    assert form["item_ids"] == [e["item_id"] for e in log] and form["result"]["finished"]
    assert engine_client.submit_cat_log(exam["id"], tickets[0], log) == form
    results = client.get(f"/exam-sessions/{exam['id']}/results", headers=auth("psychometrician")).json()
    assert [r["ticket"] for r in results] == [tickets[0]] and results[0]["score"] == pytest.approx(offline.result(tickets[0])["score"])
