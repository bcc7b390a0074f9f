"""The engine endpoints end to end: pull, verify, key release, responses; tampering and refusals.

Every refusal must reach the engine as 403 JSON and still be in the handover record and the ledger.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from itembank import audit
from itembank.db import transaction
from itembank.hashing import canonical_json
from itembank.models import AuditEvent, Handover, Role
from itembank.sealing import SealedPackage, TamperedPackage, load_public_key, open_sealed, verify
from itembank.services import delivery
from itembank.services.actors import Actor
from itembank.services.users import add_user
from tests.api.conftest import seal_window
from tests.conftest import table_locked
from tests.itembank.test_delivery import RECORDS, SECRETS, make_paper

Auth = Callable[[str], dict[str, str]]
CORRECT = {"D-001": "B", "D-002": "D", "D-003": "AC", "D-004": "T", "D-005": "A", "D-006": "答案"}


def _pull(client: TestClient, auth: Auth, paper_id: int) -> tuple[dict[str, Any], Any]:
    package = client.get(f"/engine/papers/{paper_id}/package", headers=auth("engine1"))
    assert package.status_code == 200, package.text
    key = client.get("/engine/public-key", headers=auth("engine1")).json()
    return package.json(), load_public_key(key["public_key_pem"])


def test_an_engine_lists_pulls_verifies_and_opens_its_paper(client: TestClient, auth: Auth, sealed_paper: int) -> None:
    listed = client.get("/engine/papers", headers=auth("engine1")).json()
    assert [p["paper_id"] for p in listed] == [sealed_paper]
    raw, public = _pull(client, auth, sealed_paper)
    package = SealedPackage.from_json(client.get(f"/engine/papers/{sealed_paper}/package", headers=auth("engine1")).content)
    assert package.to_dict() == raw
    assert verify(package, public).content_hash == listed[0]["content_hash"]
    released = client.post(f"/engine/papers/{sealed_paper}/key", headers=auth("engine1"))
    assert released.status_code == 200
    content = open_sealed(package, base64.b64decode(released.json()["data_key"]), public)
    delivered = [i for section in content["sections"] for i in section["items"]]
    assert [i["item_id"] for i in delivered] == [r.external_id for r in RECORDS]
    assert all("key" not in i and "rubric" not in i for i in delivered)
    assert not any(secret in canonical_json(content).decode() for secret in SECRETS)
    log = client.get("/handovers", params={"paper_id": sealed_paper}, headers=auth("auditor")).json()
    assert [(h["client"], h["action"]) for h in log["items"]] == [("engine1", "pull")] * 2 + [("engine1", "key_release")]


@pytest.mark.parametrize("tamper", ["ciphertext", "header", "signature"])
def test_a_package_altered_in_transit_fails_verification(client: TestClient, auth: Auth, sealed_paper: int, tamper: str) -> None:
    raw, public = _pull(client, auth, sealed_paper)
    altered = copy.deepcopy(raw)
    if tamper == "header":
        altered["header"]["engines"] = ["engine1", "intruder"]
    else:
        blob = bytearray(base64.b64decode(altered[tamper]))
        blob[len(blob) // 2] ^= 0x01
        altered[tamper] = base64.b64encode(bytes(blob)).decode()
    with pytest.raises(TamperedPackage):
        verify(SealedPackage.from_dict(altered), public)
    verify(SealedPackage.from_dict(raw), public)


def test_refusals_are_403_json_and_are_logged(engine: Engine, client: TestClient, auth: Auth, tokens: dict[str, str],
                                              sealed_paper: int) -> None:
    with transaction(engine) as session:
        _, other = add_user(session, Actor("admin", Role.ADMIN), "engine2", Role.EXAM_ENGINE)
    intruder = {"Authorization": f"Bearer {other}"}
    assert client.get("/engine/papers", headers=intruder).json() == []
    pulled = client.get(f"/engine/papers/{sealed_paper}/package", headers=intruder)
    assert pulled.status_code == 403 and pulled.json()["code"] == "delivery_refused" and pulled.json()["field"] == "engine_id"
    keyed = client.post(f"/engine/papers/{sealed_paper}/key", headers=intruder)
    assert keyed.status_code == 403 and keyed.json()["code"] == "key_release_refused"

    later = make_paper(engine, name="P-later")
    sealed = client.post(f"/papers/{later}/seal", json={**seal_window(hours_from_now=24), "engines": ["engine1"]},
                         headers=auth("manager"))
    assert sealed.status_code == 201
    early = client.post(f"/engine/papers/{later}/key", headers=auth("engine1"))
    assert early.status_code == 403 and "Traceback" not in early.text
    never_sealed = make_paper(engine, name="P-unsealed")
    probe = client.get(f"/engine/papers/{never_sealed}/package", headers=auth("engine1"))
    assert probe.status_code == 403 and probe.json()["field"] == "paper_id"

    log = client.get("/handovers", headers=auth("manager")).json()["items"]
    refused = [(h["client"], h["paper_id"], h["detail"].split(": ")[1]) for h in log if h["action"] == "refused"]
    assert refused == [("engine2", sealed_paper, "engine_not_allowed"), ("engine2", sealed_paper, "engine_not_allowed"),
                       ("engine1", later, "too_early"), ("engine1", never_sealed, "not_sealed")]
    assert [h["sealed_id"] for h in log if h["paper_id"] == never_sealed] == [None]
    events = client.get("/audit/events", params={"limit": 500}, headers=auth("auditor")).json()["items"]
    actions = [e["action"] for e in events]
    assert actions.count("paper.pull.refused") == 2 and actions.count("paper.key_release.refused") == 2
    assert client.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True


def test_staff_and_engines_stay_on_their_side(client: TestClient, auth: Auth, sealed_paper: int) -> None:
    assert client.get("/items", headers=auth("engine1")).status_code == 403
    assert client.get(f"/papers/{sealed_paper}/results", headers=auth("engine1")).status_code == 403
    assert client.get(f"/engine/papers/{sealed_paper}/package", headers=auth("writer")).status_code == 403
    assert client.post(f"/engine/papers/{sealed_paper}/key", headers=auth("manager")).status_code == 403


def test_responses_are_scored_by_the_bank_and_a_retry_is_harmless(client: TestClient, auth: Auth, sealed_paper: int) -> None:
    _pull(client, auth, sealed_paper)
    rows = [{"person_id": "c1", "item_id": i, "response": r} for i, r in CORRECT.items()]
    wrong = {"D-001": "A", "D-002": "A", "D-003": "A", "D-004": "F", "D-005": "A", "D-006": "不知道"}
    rows += [{"person_id": "c2", "item_id": i, "response": r} for i, r in wrong.items()]
    url = f"/engine/papers/{sealed_paper}/responses"
    first = client.post(url, json={"batch_id": "b-1", "responses": rows}, headers=auth("engine1"))
    assert first.status_code == 200, first.text
    retry = client.post(url, json={"batch_id": "b-1", "responses": rows[::-1]}, headers=auth("engine1"))
    assert retry.json() == first.json() and first.json()["n_responses"] == 12
    changed = client.post(url, json={"batch_id": "b-1", "responses": rows[:3]}, headers=auth("engine1"))
    assert changed.status_code == 409 and changed.json()["field"] == "batch_id"
    bad = client.post(url, json={"batch_id": "b-2", "responses": [{"person_id": "c3", "item_id": "NOPE"}]},
                      headers=auth("engine1"))
    assert bad.status_code == 422 and bad.json()["field"] == "responses[0].item_id"

    graded = client.post(f"/papers/{sealed_paper}/grades", json={"scores": [
        {"person_id": "c1", "item_id": "D-006", "score": 6}, {"person_id": "c2", "item_id": "D-006", "score": 2}]},
        headers=auth("psychometrician"))
    assert graded.json() == {"graded": 2}
    results = {r["person_id"]: r for r in client.get(f"/papers/{sealed_paper}/results", headers=auth("auditor")).json()}
    assert (results["c1"]["raw"], results["c1"]["max"]) == (18, 20)
    assert results["c2"]["raw"] == 2 + 2  # only D-005 right, and 2 marks on D-006
    rescored = client.post(f"/papers/{sealed_paper}/rescore", json={"item_id": "D-001", "action": "credit_all"},
                           headers=auth("manager")).json()
    assert {r["person_id"]: r["raw"] for r in rescored} == {"c1": 18, "c2": 6}


def test_concurrent_pulls_are_each_in_the_ledger_before_their_bytes_leave(engine: Engine, client: TestClient, auth: Auth,
                                                                          sealed_paper: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """36 requests at once share ledger transactions (group commit) yet each one is recorded once."""
    headers = auth("engine1")
    batches: list[int] = []
    record_pulls = delivery.record_pulls

    def counted(session: Session, pulls: list[delivery.Pull]) -> list[delivery.DeliveryRefused | None]:
        batches.append(len(pulls))
        return record_pulls(session, pulls)

    monkeypatch.setattr(delivery, "record_pulls", counted)

    async def storm() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bank", headers=headers) as engine_client:
            return await asyncio.gather(*(engine_client.get(f"/engine/papers/{sealed_paper}/package") for _ in range(36)))

    responses = asyncio.run(storm())
    assert {r.status_code for r in responses} == {200}
    package, public = _pull(client, auth, sealed_paper)
    assert {r.content for r in responses} == {canonical_json(package)}
    verify(SealedPackage.from_dict(package), public)
    with transaction(engine) as session:
        pulls = session.exec(select(Handover).where(Handover.action == "pull")).all()
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "paper.pull")).all()
        assert len(pulls) == len(events) == 37
        assert audit.verify(session).ok
    assert sum(batches) == 37 and len(batches) < 37, f"pulls waiting on a write should share it: {batches}"


def test_a_revoked_engine_token_stops_pulling_at_once(engine: Engine, client: TestClient, auth: Auth,
                                                      sealed_paper: int) -> None:
    url = f"/engine/papers/{sealed_paper}/package"
    assert client.get(url, headers=auth("engine1")).status_code == 200
    revoked = client.post("/users/engine1/deactivate", headers=auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    refused = client.get(url, headers=auth("engine1"))
    assert refused.status_code == 401 and refused.json()["field"] == "authorization", refused.text
    assert client.get("/users/me", headers=auth("engine1")).status_code == 401
    with transaction(engine) as session:
        assert [h.action for h in session.exec(select(Handover)).all()] == ["pull"]
        assert audit.verify(session).ok


def test_a_package_withdrawn_after_a_pull_is_refused_and_logged(engine: Engine, client: TestClient, auth: Auth,
                                                                sealed_paper: int) -> None:
    url = f"/engine/papers/{sealed_paper}/package"
    assert client.get(url, headers=auth("engine1")).status_code == 200
    with transaction(engine) as session:
        assert delivery.invalidate_sealed(session, sealed_paper) == 1
    refused = client.get(url, headers=auth("engine1"))
    assert refused.status_code == 403 and refused.json()["details"] == {"reason": "not_sealed"}, refused.text
    with transaction(engine) as session:
        assert [h.action for h in session.exec(select(Handover).order_by(col(Handover.id))).all()] == ["pull", "refused"]


def test_user_deactivation_is_admin_only_named_and_not_repeated(client: TestClient, auth: Auth) -> None:
    assert client.post("/users/nobody/deactivate", headers=auth("admin")).json()["field"] == "name"
    assert client.post("/users/admin/deactivate", headers=auth("admin")).status_code == 422
    assert client.post("/users/writer/deactivate", headers=auth("admin")).status_code == 200
    again = client.post("/users/writer/deactivate", headers=auth("admin"))
    assert again.status_code == 409 and again.json()["field"] == "name"


def test_the_express_lane_answers_as_the_full_route_does(engine: Engine, client: TestClient, auth: Auth,
                                                         sealed_paper: int) -> None:
    """The lane takes the documented request; a query sends the same pull through FastAPI's route."""
    url = f"/engine/papers/{sealed_paper}/package"
    lane = client.get(url, headers=auth("engine1"))
    full = client.get(f"{url}?via=app", headers=auth("engine1"))
    assert lane.status_code == full.status_code == 200
    assert lane.content == full.content
    assert lane.headers["content-type"] == full.headers["content-type"] == "application/json"
    for headers, status in (({"Authorization": "Basic x"}, 401), ({}, 401), (auth("manager"), 403),
                            ({"Authorization": "Bearer not-a-token"}, 401)):
        answers = {client.get(target, headers=headers).status_code for target in (url, f"{url}?via=app")}
        assert answers == {status}, (headers, answers)
    missing = client.get("/engine/papers/999999/package", headers=auth("engine1"))
    assert missing.status_code == 404 and missing.json()["field"] == "paper_id"
    with transaction(engine) as session:
        rows = session.exec(select(Handover).order_by(col(Handover.id))).all()
    # both pulls; the manager's attempt through the lane (where the role is decided with the pull; the app's role guard
    # answers first) and the missing paper are logged refusals
    assert [(h.client, h.action) for h in rows] == [("engine1", "pull")] * 2 + [("manager", "refused")] + [("engine1", "refused")]


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_pull_the_ledger_cannot_take_now_is_a_503_and_leaves_nothing(engine: Engine, client: TestClient, auth: Auth,
                                                                       sealed_paper: int) -> None:
    """The batch behind the express lane hits a lock timeout: every pull in it is told to retry, none is logged."""
    url = f"/engine/papers/{sealed_paper}/package"
    with table_locked(engine, "audit_head"):
        busy = client.get(url, headers=auth("engine1"))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1", busy.text
    assert busy.json()["code"] == "busy" and "ciphertext" not in busy.text
    with transaction(engine) as session:
        assert session.exec(select(Handover)).all() == []
    assert client.get(url, headers=auth("engine1")).status_code == 200, "the same pull again"
    with transaction(engine) as session:
        assert [h.action for h in session.exec(select(Handover)).all()] == ["pull"]
        assert audit.verify(session).ok


def test_start_up_rehearses_the_pull_path_and_stores_nothing(engine: Engine, auth: Auth, sealed_paper: int) -> None:
    """A restarted server has taken the pull path once and read the active package before its first
    request, in a transaction it rolled back: the ledger and the handover record are as they were."""
    with transaction(engine) as session:
        before = (audit.verify(session).events, len(session.exec(select(Handover)).all()))
    app = create_app(engine, migrate=False, job_threads=1)
    with TestClient(app) as restarted:
        cached = app.state.bank.packages.get
        assert cached.cache_info().currsize == 1, "the active package was not read at start-up"
        with transaction(engine) as session:
            check = audit.verify(session)
            assert check.ok and (check.events, len(session.exec(select(Handover)).all())) == before
        pulled = restarted.get(f"/engine/papers/{sealed_paper}/package", headers=auth("engine1"))
        assert pulled.status_code == 200 and cached.cache_info().misses == 1, "the first pull read the package again"
