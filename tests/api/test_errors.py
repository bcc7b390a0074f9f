"""Every failure is JSON ``{"code", "message", "field"}``; no stack trace ever leaves the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from api.app import create_app
from api.errors import field_path
from itembank.config import Settings
from tests.conftest import table_locked

Auth = Callable[[str], dict[str, str]]


@pytest.mark.parametrize(("location", "expected"), [
    (("body", "items", 0, "key"), "items[0].key"),
    (("query", "limit"), "limit"),
    (("body",), "body"),
    (("path", "blueprint_id"), "blueprint_id"),
])
def test_field_paths_read_like_the_spec_files(location: tuple[str | int, ...], expected: str) -> None:
    assert field_path(location) == expected


def test_request_errors_name_the_field(client: TestClient, auth: Auth) -> None:
    bad_limit = client.get("/items", params={"limit": 0}, headers=auth("manager"))
    assert bad_limit.status_code == 422 and bad_limit.json()["field"] == "limit"
    assert bad_limit.json()["code"] == "validation_error" and bad_limit.json()["message"].startswith("limit:")
    not_json = client.post("/blueprints", content=b"{nope", headers={**auth("manager"), "Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["code"] == "validation_error"
    for flag in (True, "6"):  # the schema says number: neither is read as one
        graded = client.post("/papers/1/grades", json={"scores": [{"person_id": "c1", "item_id": "D-006", "score": flag}]},
                             headers=auth("psychometrician"))
        assert graded.status_code == 422 and graded.json()["field"] == "scores[0].score", graded.text
    not_utf8 = client.post("/blueprints", content=b"\xff\xfe{", headers={**auth("manager"), "Content-Type": "application/json"})
    assert (not_utf8.status_code, not_utf8.json()["code"], not_utf8.json()["field"]) == (422, "validation_error", "body")
    nul = client.post("/users", json={"name": "a\x00b", "role": "admin"}, headers=auth("admin"))
    assert nul.status_code == 422 and nul.json()["field"] == "body"
    too_big = client.get("/jobs/99999999999", headers=auth("manager"))
    assert too_big.status_code == 422 and too_big.json()["field"] == "job_id"


def test_unknown_routes_and_methods_answer_in_the_same_shape(client: TestClient, auth: Auth) -> None:
    missing = client.get("/no-such-thing", headers=auth("admin"))
    assert missing.status_code == 404 and set(missing.json()) >= {"code", "message", "field"}
    wrong_method = client.delete("/users", headers=auth("admin"))
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET, POST", "every method of the path, not only the first route's"
    item = client.options("/items/L3-A-A-001-0001", headers=auth("admin"))
    assert item.status_code == 405 and item.headers["allow"] == "GET, PUT"
    importing = client.options("/items/import", headers=auth("admin"))  # also matches /items/{external_id}
    assert importing.status_code == 405 and importing.headers["allow"] == "POST"


def test_a_bug_is_a_500_without_details(client: TestClient) -> None:
    def explode() -> None:
        raise RuntimeError("connection string postgres://secret@db")

    client.app.get("/explode")(explode)  # type: ignore[attr-defined]
    response = client.get("/explode")
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": "internal error; the bank logged it",
                               "field": None, "details": None}
    assert "secret" not in response.text and "Traceback" not in response.text


def test_the_app_migrates_its_configured_database_at_start(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/fresh.db")
    app = create_app(settings=settings)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/users/me").status_code == 401
    tables = set(inspect(app.state.bank.engine).get_table_names())
    assert {"items", "jobs", "audit_events", "alembic_version"} <= tables


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_request_the_database_could_not_serve_now_is_a_503_to_retry(client: TestClient, auth: Auth, engine: Engine) -> None:
    """A lock timeout (another transaction holds the ledger) is no bug: 503, ``Retry-After``, nothing stored."""
    request = {"name": "engine9", "role": "exam_engine"}
    with table_locked(engine, "audit_head"):
        busy = client.post("/users", json=request, headers=auth("admin"))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["code"] == "busy" and "nothing was stored" in busy.json()["message"]
    assert "Traceback" not in busy.text and "audit_head" not in busy.text
    assert client.post("/users", json=request, headers=auth("admin")).status_code == 201, "the same request again"
