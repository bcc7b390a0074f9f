"""The reference exam-engine client (``itembank.engine_client``) against this API: the shared contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from itembank.engine_client import EngineClient
from itembank.errors import Forbidden, ValidationError
from itembank.sealing import KeyReleaseRefused
from tests.api.conftest import seal_window
from tests.itembank.test_delivery import RECORDS, SECRETS, make_paper

Auth = Callable[[str], dict[str, str]]


def engine_client(client: TestClient, token: str) -> EngineClient:
    return EngineClient(str(client.base_url), token, http=client, retries=0)


def test_the_reference_client_pulls_opens_and_submits(client: TestClient, tokens: dict[str, str], sealed_paper: int) -> None:
    engine = engine_client(client, tokens["engine1"])
    assert [p["paper_id"] for p in engine.papers()] == [sealed_paper]
    content = engine.open(sealed_paper, engine.pull(sealed_paper))
    delivered = [i["item_id"] for section in content["sections"] for i in section["items"]]
    assert delivered == [r.external_id for r in RECORDS]
    assert not any(secret in str(content) for secret in SECRETS)
    rows = [{"person_id": "c1", "item_id": i, "response": None} for i in delivered]
    first = engine.submit(sealed_paper, "batch-1", rows)
    assert engine.submit(sealed_paper, "batch-1", rows) == first and first["n_responses"] == len(rows)
    with pytest.raises(ValidationError):
        engine.submit(sealed_paper, "batch-2", [{"person_id": "c2", "item_id": "NOPE", "response": None}])


def test_refusals_arrive_as_the_banks_own_errors(engine: Engine, client: TestClient, auth: Auth, tokens: dict[str, str],
                                                  sealed_paper: int) -> None:
    later = make_paper(engine, name="P-tomorrow")
    sealed = client.post(f"/papers/{later}/seal", json={**seal_window(hours_from_now=24), "engines": ["engine1"]},
                         headers=auth("manager"))
    assert sealed.status_code == 201
    with pytest.raises(KeyReleaseRefused) as refused:
        engine_client(client, tokens["engine1"]).data_key(later)
    assert refused.value.reason == "too_early"
    with pytest.raises(Forbidden):
        engine_client(client, tokens["writer"]).pull(sealed_paper)


def test_packages_sealed_before_a_key_rotation_still_verify_and_open(engine: Engine, client: TestClient, auth: Auth,
                                                                    tokens: dict[str, str], sealed_paper: int) -> None:
    before = client.get("/engine/public-key", headers=auth("engine1")).json()
    rotated = client.post("/signing-keys/rotate", headers=auth("admin"))
    assert rotated.status_code == 201 and rotated.json()["key_id"] != before["key_id"]
    later = make_paper(engine, name="P-after-rotation")
    assert client.post(f"/papers/{later}/seal", json={**seal_window(), "engines": ["engine1"]},
                       headers=auth("manager")).status_code == 201

    engine = engine_client(client, tokens["engine1"])
    old, new = engine.pull(sealed_paper), engine.pull(later)
    assert (old.header.key_id, new.header.key_id) == (before["key_id"], rotated.json()["key_id"])
    assert engine.open(sealed_paper, old)["sections"] and engine.open(later, new)["sections"]

    keys = client.get("/signing-keys", headers=auth("auditor")).json()
    assert [(k["key_id"], k["active"]) for k in keys] == [(before["key_id"], False), (rotated.json()["key_id"], True)]
    retired = client.get("/engine/public-key", params={"key_id": before["key_id"]}, headers=auth("engine1")).json()
    assert retired["active"] is False and retired["public_key_pem"] == before["public_key_pem"]
    unknown = client.get("/engine/public-key", params={"key_id": "0" * 16}, headers=auth("engine1"))
    assert unknown.status_code == 404 and unknown.json()["field"] == "key_id"
    actions = [e["action"] for e in client.get("/audit/events", params={"limit": 500}, headers=auth("auditor")).json()["items"]]
    assert actions.count("signing_key.rotate") == 1
