"""The reference exam-engine client against the real API app (FastAPI TestClient over the test database)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from api.app import create_app
from itembank.cli import app as cli_app
from itembank.cli import engine as engine_cli
from itembank.db import transaction
from itembank.engine_client import EngineClient, EngineUnavailable
from itembank.errors import Forbidden
from itembank.models import Handover, Response, ResponseBatch, Role
from itembank.sealing import KeyReleaseRefused, SealedPackage, TamperedPackage
from itembank.services import delivery
from itembank.services.actors import Actor
from itembank.services.users import add_user
from tests.itembank.test_delivery import RECORDS, bank, make_paper  # noqa: F401

BASE = "http://testserver"
pytestmark = pytest.mark.usefixtures("bank")
"""Every test runs on the delivery tests' bank: staff, a second engine and six active items."""


@pytest.fixture
def tokens(engine: Engine, staff: dict[str, Actor]) -> dict[str, str]:  # noqa: F811
    """Bearer tokens of two exam engines; ``gate-a`` is allowed the sealed paper, ``gate-b`` is not."""
    issued = {}
    with transaction(engine) as session:
        for name in ("gate-a", "gate-b"):
            _, issued[name] = add_user(session, staff["admin"], name, Role.EXAM_ENGINE)
    return issued


@pytest.fixture
def app_client(engine: Engine, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(engine, migrate=False, job_threads=1), base_url=BASE) as client:
        yield client


def seal_now(engine: Engine, staff: dict[str, Actor], *, opens_in: timedelta = -timedelta(hours=1)) -> int:  # noqa: F811
    paper_id = make_paper(engine)
    start = datetime.now(UTC) + opens_in
    with transaction(engine) as session:
        delivery.seal_paper(session, staff["manager"], paper_id, not_before=start,
                            not_after=start + timedelta(hours=3), engines=["gate-a"])
    return paper_id


def client_for(app_client: TestClient, token: str) -> EngineClient:
    return EngineClient(BASE, token, http=app_client, backoff_seconds=0.0)


def test_pull_verify_open_and_submit(engine: Engine, staff: dict[str, Actor], tokens: dict[str, str],  # noqa: F811
                                     app_client: TestClient) -> None:
    paper_id = seal_now(engine, staff)
    gate = client_for(app_client, tokens["gate-a"])
    assert [p["paper_id"] for p in gate.papers()] == [paper_id]
    sealed = gate.pull(paper_id)
    content = gate.open(paper_id, sealed)
    delivered = [i["item_id"] for s in content["sections"] for i in s["items"]]
    assert delivered == [r.external_id for r in RECORDS]
    summary = gate.submit(paper_id, "gate-a-1", [{"person_id": "c1", "item_id": "D-001", "response": "B"}])
    assert summary["n_responses"] == 1
    with transaction(engine) as session:
        assert [h.action for h in session.exec(select(Handover)).all()] == ["pull", "key_release"]
        assert session.exec(select(Response.score)).all() == [2.0]


def test_refusals_arrive_as_domain_errors(engine: Engine, staff: dict[str, Actor], tokens: dict[str, str],  # noqa: F811
                                          app_client: TestClient) -> None:
    paper_id = seal_now(engine, staff, opens_in=timedelta(hours=5))
    gate = client_for(app_client, tokens["gate-a"])
    sealed = gate.pull(paper_id)
    with pytest.raises(KeyReleaseRefused) as early:
        gate.open(paper_id, sealed)
    assert early.value.reason == "too_early"
    with pytest.raises(Forbidden):
        client_for(app_client, tokens["gate-b"]).pull(paper_id)
    with transaction(engine) as session:
        assert [h.action for h in session.exec(select(Handover)).all()] == ["pull", "refused", "refused"]


class SubstitutingBank(TestClient):
    """A bank (or a man in the middle) that serves another paper's package, or alters one."""

    def __init__(self, *args: Any, edit: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.edit = edit

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().request(method, url, **kwargs)
        if str(url).endswith("/package"):
            body = self.edit(response.json())
            return httpx.Response(200, json=body, request=response.request)
        return response


@pytest.mark.parametrize("edit", [
    lambda body: body | {"ciphertext": body["ciphertext"][:-8] + "AAAAAAA="},
    lambda body: body | {"header": body["header"] | {"engines": ["gate-a", "gate-b"]}},
], ids=["ciphertext", "engines"])
def test_altered_packages_are_refused_by_the_client(engine: Engine, staff: dict[str, Actor],
                                                    tokens: dict[str, str], edit: Any) -> None:
    paper_id = seal_now(engine, staff)
    app = create_app(engine, migrate=False, job_threads=1)
    with SubstitutingBank(app, base_url=BASE, edit=edit) as tampering, pytest.raises(TamperedPackage):
        client_for(tampering, tokens["gate-a"]).pull(paper_id)


def test_package_of_another_paper_is_refused(engine: Engine, staff: dict[str, Actor], tokens: dict[str, str],  # noqa: F811
                                             app_client: TestClient) -> None:
    paper_id = seal_now(engine, staff)
    genuine = client_for(app_client, tokens["gate-a"]).pull(paper_id)
    with pytest.raises(TamperedPackage, match="not 999"):
        client_for(app_client, tokens["gate-a"]).open(999, genuine)


class LosingAnswers(TestClient):
    """Delivers each request to the bank but loses the first ``lose`` answers on the way back."""

    def __init__(self, *args: Any, lose: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lose, self.calls = lose, 0

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().request(method, url, **kwargs)
        self.calls += 1
        if self.calls <= self.lose:
            raise httpx.ReadError("connection reset by peer")
        return response


def test_submit_retries_without_duplicating(engine: Engine, staff: dict[str, Actor], tokens: dict[str, str],  # noqa: F811
                                            app_client: TestClient) -> None:
    paper_id = seal_now(engine, staff)
    client_for(app_client, tokens["gate-a"]).pull(paper_id)
    rows = [{"person_id": f"c{n}", "item_id": "D-004", "response": "T"} for n in range(5)]
    app = create_app(engine, migrate=False, job_threads=1)
    with LosingAnswers(app, base_url=BASE, lose=2) as flaky:
        summary = client_for(flaky, tokens["gate-a"]).submit(paper_id, "retry-1", rows)
        assert flaky.calls == 3 and summary["n_responses"] == 5
    with LosingAnswers(app, base_url=BASE, lose=9) as dead:
        with pytest.raises(EngineUnavailable):
            EngineClient(BASE, tokens["gate-a"], http=dead, retries=2, backoff_seconds=0.0).submit(paper_id, "retry-1", rows)
        assert dead.calls == 3
    with transaction(engine) as session:
        assert len(session.exec(select(ResponseBatch)).all()) == 1
        assert len(session.exec(select(Response)).all()) == 5


def test_cli_pull_open_submit(engine: Engine, staff: dict[str, Actor], tokens: dict[str, str],  # noqa: F811
                              app_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paper_id = seal_now(engine, staff)
    monkeypatch.setattr(engine_cli, "make_client", lambda url, token: EngineClient(url, token, http=app_client))
    runner = CliRunner()
    common = ["--url", BASE, "--token", tokens["gate-a"]]
    pulled = runner.invoke(cli_app, ["engine", "pull", str(paper_id), *common, "--out", str(tmp_path)])
    assert pulled.exit_code == 0, pulled.output
    package = tmp_path / f"paper-{paper_id}.sealed.json"
    assert SealedPackage.from_json(package.read_bytes()).header.paper_id == str(paper_id)
    opened = runner.invoke(cli_app, ["engine", "open", str(paper_id), *common, "--in", str(package),
                                     "--out", str(tmp_path / "paper.json")])
    assert opened.exit_code == 0, opened.output
    assert json.loads((tmp_path / "paper.json").read_text())["paper"]["name"] == "P-1"
    csv = tmp_path / "responses.csv"
    csv.write_text("person_id,item_id,response\nc1,D-001,B\nc1,D-002,\n", encoding="utf-8")
    submitted = runner.invoke(cli_app, ["engine", "submit", str(paper_id), str(csv), *common, "--batch-id", "cli-1"])
    assert submitted.exit_code == 0, submitted.output
    with transaction(engine) as session:
        assert sorted(session.exec(select(Response.response, Response.score)).all(), key=str) == [("B", 2.0), (None, 0.0)]


def test_a_response_file_names_columns_it_does_not_send_and_refuses_look_alikes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import Workbook

    from itembank.errors import ValidationError

    noted = tmp_path / "noted.csv"
    noted.write_text("person_id,item_id,response,seat\nc1,D-001,B,12\nc1,D-002,,13\n", encoding="utf-8")
    assert engine_cli.read_responses(noted) == [{"person_id": "c1", "item_id": "D-001", "response": "B"},
                                                {"person_id": "c1", "item_id": "D-002", "response": None}]
    assert capsys.readouterr().err == "warning: 作答文件的列 seat 未识别，已忽略\n"
    misspelt = tmp_path / "misspelt.csv"  # sent as it was read before, every answer would have been blank
    misspelt.write_text("person_id,item_id,responses\nc1,D-001,B\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="作答文件的列 responses 未识别，是否应为 response？") as caught:
        engine_cli.read_responses(misspelt)
    assert caught.value.field == "responses.responses"
    workbook = Workbook()  # Excel files are read too; a number typed as a person id is its digits
    workbook.active.append(["person_id", "item_id", "response"])
    workbook.active.append([1001, "D-001", "T"])
    workbook.save(tmp_path / "responses.xlsx")
    assert engine_cli.read_responses(tmp_path / "responses.xlsx") == [
        {"person_id": "1001", "item_id": "D-001", "response": "T"}]
