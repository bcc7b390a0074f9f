"""Papers through HTTP: staff see them with keys and approve drafts; writers and engines never see them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from itembank.db import transaction
from itembank.engine_client import EngineClient
from itembank.models import Blueprint, ItemStatus, PaperStatus, Role
from itembank.services import blueprints, items
from itembank.services.actors import Actor
from tests.api.conftest import seal_window
from tests.conftest import small_blueprint_document
from tests.itembank.test_delivery import RECORDS, make_paper

Auth = Callable[[str], dict[str, str]]


def test_a_draft_paper_is_shown_with_keys_to_staff_and_approved_once(engine: Engine, client: TestClient, auth: Auth) -> None:
    with transaction(engine) as session:
        blueprint = blueprints.import_blueprint(session, Actor("manager", Role.BANK_MANAGER), small_blueprint_document())
        items.create_items(session, Actor("writer", Role.ITEM_WRITER), blueprint, list(enumerate(RECORDS)),
                           status=ItemStatus.ACTIVE)
    paper_id = make_paper(engine, status=PaperStatus.DRAFT)
    listing = client.get("/papers", params={"status": "draft"}, headers=auth("psychometrician")).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == paper_id
    detail = client.get(f"/papers/{paper_id}", headers=auth("auditor")).json()
    assert [(i["item_id"], i["key"]) for i in detail["items"][:2]] == [("D-001", "B"), ("D-002", "D")]
    assert client.get(f"/papers/{paper_id}", headers=auth("writer")).status_code == 403
    assert client.get("/papers", headers=auth("engine1")).status_code == 403
    approved = client.post(f"/papers/{paper_id}/approve", headers=auth("manager"))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == "manager"
    again = client.post(f"/papers/{paper_id}/approve", headers=auth("manager"))
    assert again.status_code == 409 and again.json()["field"] == "status"


def test_a_pretest_block_is_attached_before_sealing_and_delivered_unscored(
        engine: Engine, client: TestClient, auth: Auth, tokens: dict[str, str]) -> None:
    with transaction(engine) as session:
        blueprint = blueprints.import_blueprint(session, Actor("manager", Role.BANK_MANAGER), small_blueprint_document())
        items.create_items(session, Actor("writer", Role.ITEM_WRITER), blueprint, list(enumerate(RECORDS)),
                           status=ItemStatus.ACTIVE)
    paper_id = make_paper(engine)
    with transaction(engine) as session:
        items.create_items(session, Actor("writer", Role.ITEM_WRITER), session.get(Blueprint, 1),  # type: ignore[arg-type]
                           [(0, RECORDS[3].model_copy(update={"external_id": "N-001", "stem": "新题"}))],
                           status=ItemStatus.ACCEPTED)
    bad = client.post(f"/papers/{paper_id}/pretest", json={"items": ["D-001", "NOPE"]}, headers=auth("manager"))
    assert bad.status_code == 422 and bad.json()["field"] == "external_ids"
    attached = client.post(f"/papers/{paper_id}/pretest", json={"items": ["N-001"]}, headers=auth("manager"))
    assert attached.status_code == 200, attached.text
    assert attached.json() == {"paper_id": paper_id, "items": [{"item_id": "N-001", "version": 1}]}
    sealed = client.post(f"/papers/{paper_id}/seal", json={**seal_window(), "engines": ["engine1"]}, headers=auth("manager"))
    assert sealed.status_code == 201, sealed.text
    late = client.post(f"/papers/{paper_id}/pretest", json={"items": ["N-001"]}, headers=auth("manager"))
    assert late.status_code == 409

    engine_client = EngineClient(str(client.base_url), tokens["engine1"], http=client, retries=0)
    content = engine_client.open(paper_id, engine_client.pull(paper_id))
    assert content["sections"][-1] == {"name": "pretest", "items": [
        {**content["sections"][-1]["items"][0], "item_id": "N-001", "scored": False}]}
    assert content["paper"]["total_points"] == sum(r.points for r in RECORDS)
