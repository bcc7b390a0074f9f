"""Blueprints, items, the review workflow and bank health through HTTP, end to end."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import PANEL, item_row, small_blueprint_document

Auth = Callable[[str], dict[str, str]]


def _record(n: int, element: str = "A-A-001") -> dict[str, object]:
    row = item_row(n, element)
    options = {k[-1]: row.pop(k) for k in [k for k in row if k.startswith("option_")]}
    row.pop("enemy_groups")
    return {**row, "options": options}


def import_blueprint(client: TestClient, auth: Auth) -> int:
    response = client.post("/blueprints", json=small_blueprint_document(), headers=auth("manager"))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def activate(client: TestClient, auth: Auth, ids: list[str]) -> None:
    """Take draft items through proofreading, review, the full panel and activation."""
    steps = [("proofread", "proofreader"), ("review", "reviewer")]
    for action, user in steps:
        response = client.post(f"/reviews/{action}", json={"items": ids}, headers=auth(user))
        assert response.status_code == 200, response.text
    for member in PANEL[:5]:
        response = client.post("/reviews/sign", json={"items": ids, "decision": "approve"}, headers=auth(member))
        assert response.status_code == 200, response.text
    response = client.post("/reviews/activate", json={"items": ids}, headers=auth("manager"))
    assert response.status_code == 200, response.text
    assert {i["status"] for i in response.json()["items"]} == {"active"}


def seed_bank(client: TestClient, auth: Auth, n: int = 6) -> tuple[int, list[str]]:
    """A blueprint and ``n`` active items spread over its elements."""
    blueprint_id = import_blueprint(client, auth)
    elements = ["A-A-001", "A-A-002", "B-A-001", "B-B-001", "B-B-002"]
    body = {"blueprint_id": blueprint_id, "items": [_record(k, elements[k % len(elements)]) for k in range(1, n + 1)]}
    response = client.post("/items", json=body, headers=auth("writer"))
    assert response.status_code == 201, response.text
    ids = [i["external_id"] for i in response.json()]
    activate(client, auth, ids)
    return blueprint_id, ids


def test_items_go_from_draft_to_active_and_are_paged(client: TestClient, auth: Auth) -> None:
    blueprint_id, ids = seed_bank(client, auth, n=7)
    page = client.get("/items", params={"status": "active", "limit": 3, "offset": 3}, headers=auth("reviewer")).json()
    assert page["total"] == 7 and page["limit"] == 3 and page["offset"] == 3
    assert [i["external_id"] for i in page["items"]] == ids[3:6]
    detail = client.get(f"/items/{ids[0]}", headers=auth("writer")).json()
    assert detail["status"] == "active" and detail["content"]["key"] == "B" and detail["content"]["version"] == 1
    tree = client.get(f"/blueprints/{blueprint_id}", headers=auth("writer")).json()
    assert [n["code"] for n in tree["nodes"] if n["is_element"]] == ["A-A-001", "A-A-002", "B-A-001", "B-B-001", "B-B-002"]
    assert abs(sum(n["absolute_weight"] for n in tree["nodes"] if n["is_element"]) - 100) < 1e-6


def test_an_edit_is_a_new_version_back_in_draft_and_a_stale_edit_is_a_conflict(client: TestClient, auth: Auth) -> None:
    _, ids = seed_bank(client, auth, n=1)
    changed = {**_record(1), "stem": "改过的题干"}
    response = client.put(f"/items/{ids[0]}", json={"expected_version": 1, "content": changed}, headers=auth("writer"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "draft" and response.json()["current_version"] == 2
    stale = client.put(f"/items/{ids[0]}", json={"expected_version": 1, "content": changed}, headers=auth("writer2"))
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    versions = client.get(f"/items/{ids[0]}/versions", headers=auth("manager")).json()
    assert [(v["version"], v["stem"]) for v in versions] == [(1, _record(1)["stem"]), (2, "改过的题干")]


def test_bad_item_batches_are_refused_whole_naming_the_field(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    bad = {**_record(2), "key": "Z"}
    response = client.post("/items", json={"blueprint_id": blueprint_id, "items": [_record(1), bad]}, headers=auth("writer"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and body["field"] == "items[1]"
    assert "Z" in body["message"]
    unknown_element = {**_record(3), "element": "C-C-009"}
    response = client.post("/items", json={"blueprint_id": blueprint_id, "items": [unknown_element]}, headers=auth("writer"))
    assert response.status_code == 422 and "C-C-009" in response.json()["message"]
    assert client.get("/items", headers=auth("manager")).json()["total"] == 0


def test_workflow_rules_surface_as_json_errors(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    client.post("/items", json={"blueprint_id": blueprint_id, "items": [_record(1)]}, headers=auth("writer"))
    skip = client.post("/reviews/review", json={"items": ["T-00001"]}, headers=auth("reviewer"))
    assert skip.status_code == 409 and skip.json()["field"] == "status"
    no_reason = client.post("/reviews/retire", json={"items": ["T-00001"]}, headers=auth("manager"))
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    missing = client.get("/items/NOPE", headers=auth("manager"))
    assert missing.status_code == 404 and missing.json() == {
        "code": "not_found", "message": "no item 'NOPE' in the bank", "field": "item", "details": None}
    again = client.post("/blueprints", json=small_blueprint_document(), headers=auth("manager"))
    assert again.status_code == 409 and again.json()["field"] == "version"


def test_bank_health_reports_thin_elements(client: TestClient, auth: Auth) -> None:
    blueprint_id, _ = seed_bank(client, auth, n=6)
    report = client.get(f"/blueprints/{blueprint_id}/health", params={"min_items": 2}, headers=auth("psychometrician")).json()
    active = {c["element"]: c["active"] for c in report["cells"]}
    assert active == {"A-A-001": 1, "A-A-002": 2, "B-A-001": 1, "B-B-001": 1, "B-B-002": 1}
    assert sorted(report["thin_elements"]) == ["A-A-001", "B-A-001", "B-B-001", "B-B-002"]
    assert report["ok"] is False


def test_users_tokens_and_the_ledger(client: TestClient, auth: Auth) -> None:
    created = client.post("/users", json={"name": "new-writer", "role": "item_writer"}, headers=auth("admin"))
    assert created.status_code == 201
    me = client.get("/users/me", headers={"Authorization": f"Bearer {created.json()['token']}"})
    assert me.json()["name"] == "new-writer" and me.json()["role"] == "item_writer"
    events = client.get("/audit/events", params={"action": "user.add", "entity_id": "new-writer"}, headers=auth("auditor")).json()
    assert events["total"] == 1
    check = client.get("/audit/verify", headers=auth("auditor")).json()
    assert check["ok"] is True and check["events"] == client.get("/audit/events", headers=auth("admin")).json()["total"]
