"""Papers through HTTP: staff see them with keys and approve drafts; writers and engines never see them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from itembank.db import transaction
from itembank.models import ItemStatus, PaperStatus, Role
from itembank.services import blueprints, items
from itembank.services.actors import Actor
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
