"""Incidents through the API, as an exam office reports them: damage, an item found wrong, a leak that
cannot be handled (and then changes nothing). The leak drill with a real backup runs in the service
tests (tests/itembank/test_papers_incidents.py) and in the demo."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from itembank import audit
from itembank.db import transaction
from itembank.models import Item, Paper
from tests.api.test_engine import CORRECT

Auth = Callable[[str], dict[str, str]]


def _package(client: TestClient, auth: Auth, paper_id: int) -> dict:
    pulled = client.get(f"/engine/papers/{paper_id}/package", headers=auth("engine1"))
    assert pulled.status_code == 200, pulled.text
    return pulled.json()


def test_a_damaged_package_is_resealed_and_only_the_new_one_is_served(client: TestClient, auth: Auth,
                                                                       sealed_paper: int) -> None:
    before = _package(client, auth, sealed_paper)
    reported = client.post("/incidents/damage", headers=auth("manager"), json={
        "paper_id": sealed_paper, "scope": {"engines": ["engine1"], "sites": ["考点-3"]}, "cause": "试卷包下载后校验失败"})
    assert reported.status_code == 201, reported.text
    incident = reported.json()
    assert incident["kind"] == "damage" and incident["scope"]["sites"] == ["考点-3"]
    after = _package(client, auth, sealed_paper)
    assert after != before and after["header"]["content_hash"] == before["header"]["content_hash"], \
        "the re-release is a new package (new data key) of the same content"
    listed = client.get("/incidents", headers=auth("auditor")).json()
    assert [i["id"] for i in listed["items"]] == [incident["id"]]


def test_an_item_found_wrong_is_suspended_and_the_paper_rescored(engine: Engine, client: TestClient, auth: Auth,
                                                                 sealed_paper: int) -> None:
    _package(client, auth, sealed_paper)
    rows = [{"person_id": "c1", "item_id": i, "response": r} for i, r in CORRECT.items() if i != "D-001"]
    rows.append({"person_id": "c1", "item_id": "D-001", "response": "A"})
    submitted = client.post(f"/engine/papers/{sealed_paper}/responses", headers=auth("engine1"),
                            json={"batch_id": "b-1", "responses": rows})
    assert submitted.status_code == 200, submitted.text
    graded = client.post(f"/papers/{sealed_paper}/grades", headers=auth("psychometrician"),
                         json={"scores": [{"person_id": "c1", "item_id": "D-006", "score": 6}]})
    assert graded.status_code == 200, graded.text
    assert client.get(f"/papers/{sealed_paper}/results", headers=auth("auditor")).json()[0]["raw"] == 2 + 4 + 2 + 2 + 6
    reported = client.post("/incidents/item-error", headers=auth("manager"), json={
        "paper_id": sealed_paper, "item_id": "D-001", "action": "credit_all", "cause": "题干有歧义"})
    assert reported.status_code == 201, reported.text
    assert reported.json()["report"]["results"]["candidates"] == 1
    results = client.get(f"/papers/{sealed_paper}/results", headers=auth("auditor")).json()
    assert results[0]["raw"] == 2 + 2 + 4 + 2 + 2 + 6, "D-001 credited to everyone, D-006 graded 6 of 8"
    with transaction(engine) as session:
        assert session.exec(select(Item.status).where(Item.external_id == "D-001")).one() == "suspended"
    unknown = client.post("/incidents/item-error", headers=auth("manager"), json={
        "paper_id": sealed_paper, "item_id": "NOPE", "action": "drop", "cause": "x"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "item"


def test_a_leak_that_cannot_be_handled_is_refused_and_changes_nothing(engine: Engine, client: TestClient, auth: Auth,
                                                                      sealed_paper: int) -> None:
    """A hand-made paper has no disjoint backup and no spec to assemble a replacement from."""
    with transaction(engine) as session:
        events = audit.verify(session).events
    refused = client.post("/incidents/leak", headers=auth("manager"), json={
        "paper_id": sealed_paper, "scope": {"engines": ["engine1"]}, "cause": "考生拍照外传"})
    assert refused.status_code == 404 and refused.json()["field"] == "paper"
    assert "no assembly run" in refused.json()["message"]
    _package(client, auth, sealed_paper)  # still sealed, still deliverable
    with transaction(engine) as session:
        assert session.get(Paper, sealed_paper).status == "sealed"  # type: ignore[union-attr]
        assert set(session.exec(select(Item.status)).all()) == {"active"}
        assert audit.verify(session).events == events + 1, "only the pull above was added"
    unscoped = client.post("/incidents/leak", headers=auth("manager"), json={
        "paper_id": sealed_paper, "scope": {}, "cause": "x"})
    assert unscoped.status_code == 422 and unscoped.json()["field"] == "scope.engines"
