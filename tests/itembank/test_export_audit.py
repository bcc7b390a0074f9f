"""Every export of bank content leaves one ledger event: who, what, how many and the SHA-256 of the bytes
handed out, recomputed here from the download or the file; a refused or failed export leaves none."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from typer.testing import CliRunner, Result

from api.deps import BANK_STAFF
from itembank import audit
from itembank.cli import app as cli_app
from itembank.cli.app import Context
from itembank.db import transaction
from itembank.errors import Forbidden, ValidationError
from itembank.hashing import content_hash
from itembank.models import AuditEvent, Role
from itembank.services import blueprints, transfer
from itembank.services.actors import Actor
from tests.api.conftest import auth, client, tokens  # noqa: F401 - the API fixtures, for this module too
from tests.api.test_bank_routes import seed_bank
from tests.conftest import item_row, small_blueprint_document

Auth = Callable[[str], dict[str, str]]
ELEMENTS = ["A-A-001", "A-A-002", "B-A-001", "B-B-001", "B-B-002"]


def ledger(engine: Engine) -> list[AuditEvent]:
    with transaction(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def new_events(engine: Engine, before: list[AuditEvent]) -> list[AuditEvent]:
    """The events appended since ``before``, after checking the chain still verifies."""
    with transaction(engine) as session:
        check = audit.verify(session)
    assert check.ok, str(check)
    return ledger(engine)[len(before):]


def expected_payload(fmt: str, statuses: list[str], rows: int, content: bytes) -> str:
    """The payload hash an export of ``content`` should carry, computed without the service."""
    return content_hash({"format": fmt, "status": statuses, "rows": rows, "sha256": hashlib.sha256(content).hexdigest()})


def seed_drafts(engine: Engine, staff: dict[str, Actor], n: int) -> None:
    with transaction(engine) as session:
        blueprint = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
        rows = [item_row(k, ELEMENTS[k % len(ELEMENTS)]) for k in range(1, n + 1)]
        transfer.import_item_rows(session, staff["writer"], blueprint, enumerate(rows, start=2), "seed", field="file")


def items_export(engine: Engine, monkeypatch: pytest.MonkeyPatch, actor: str, path: Path, *options: str) -> Result:
    """``itembank --actor ACTOR items export PATH`` in-process, on the test's database (either backend)."""
    monkeypatch.setattr(Context, "engine", property(lambda _: engine))
    return CliRunner().invoke(cli_app, ["--actor", actor, "items", "export", str(path), *options])


@pytest.mark.parametrize("table", ["csv", "xlsx"])
def test_an_api_download_adds_one_event_hashing_the_bytes_sent(table: str, engine: Engine, client: TestClient,  # noqa: F811
                                                                auth: Auth) -> None:  # noqa: F811
    _, active = seed_bank(client, auth, n=4)
    before = ledger(engine)
    download = client.get("/items/export", params=[("format", table), ("status", "active")], headers=auth("reviewer"))
    assert download.status_code == 200, download.text

    (event,) = new_events(engine, before)
    assert (event.actor, event.action, event.entity_type, event.entity_id) == ("reviewer", "items.export", "items",
                                                                               f"items.{table}")
    assert event.payload_hash == expected_payload(table, ["active"], len(active), download.content)
    assert event.payload_hash != expected_payload(table, ["active"], len(active), download.content + b" ")


def test_a_cli_item_export_adds_one_event_hashing_the_file_written(engine: Engine, staff: dict[str, Actor],
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_drafts(engine, staff, n=5)
    before = ledger(engine)
    path = tmp_path / "out" / "drafts.csv"
    result = items_export(engine, monkeypatch, "writer", path, "--status", "draft")
    assert result.exit_code == 0, result.output

    content = path.read_bytes()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert [r["external_id"] for r in rows] == [f"T-{k:05d}" for k in range(1, 6)] and rows[0]["key"] == "B"
    (event,) = new_events(engine, before)
    assert (event.actor, event.action, event.entity_type, event.entity_id) == ("writer", "items.export", "items", "drafts.csv")
    assert event.payload_hash == expected_payload("csv", ["draft"], 5, content)
    assert hashlib.sha256(content).hexdigest() in result.output


def test_a_cli_whole_bank_export_adds_one_bank_event_and_writes_the_same_document(
        engine: Engine, staff: dict[str, Actor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_drafts(engine, staff, n=3)
    with transaction(engine) as session:
        document = transfer.export_bank(session)
    before = ledger(engine)
    path = tmp_path / "bank.json"
    result = items_export(engine, monkeypatch, "manager", path)
    assert result.exit_code == 0, result.output

    content = path.read_bytes()
    assert content.decode("utf-8") == json.dumps(document, ensure_ascii=False, indent=1)
    (event,) = new_events(engine, before)
    assert (event.actor, event.action, event.entity_type, event.entity_id) == ("manager", "bank.export", "bank", "bank.json")
    assert event.payload_hash == expected_payload("json", [], 3, content)


def test_roles_that_may_not_export_are_refused_and_leave_no_trace(engine: Engine, client: TestClient,  # noqa: F811
                                                                   auth: Auth) -> None:  # noqa: F811
    seed_bank(client, auth, n=2)
    before = ledger(engine)
    for user in ("auditor", "engine1"):
        response = client.get("/items/export", headers=auth(user))
        assert response.status_code == 403 and response.json()["field"] == "role", user
    assert set(transfer.EXPORTERS) == set(BANK_STAFF)  # the service's rule is the one the API admits
    for role in set(Role) - set(transfer.EXPORTERS):  # the service refuses on its own: the CLI has no route guard
        with pytest.raises(Forbidden), transaction(engine) as session:
            transfer.export_item_table(session, Actor(role.value, role), "csv")
    assert set(transfer.BANK_CUSTODIANS) == {Role.BANK_MANAGER, Role.ADMIN}
    for role in set(Role) - set(transfer.BANK_CUSTODIANS):
        with pytest.raises(Forbidden), transaction(engine) as session:
            transfer.export_bank_json(session, Actor(role.value, role))
    assert new_events(engine, before) == []


def test_a_refused_cli_export_writes_no_file_and_records_nothing(engine: Engine, staff: dict[str, Actor], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seed_drafts(engine, staff, n=2)
    before = ledger(engine)
    refusals = [("auditor", "items.csv", (), Forbidden), ("writer", "bank.json", (), Forbidden),
                ("manager", "items.txt", (), ValidationError), ("manager", "bank.json", ("--status", "active"), ValidationError)]
    for actor, name, options, error in refusals:
        result = items_export(engine, monkeypatch, actor, tmp_path / name, *options)
        assert isinstance(result.exception, error), (actor, name, result.output)
        assert not (tmp_path / name).exists()
    assert new_events(engine, before) == []


def test_a_failed_api_export_records_nothing(engine: Engine, client: TestClient, auth: Auth) -> None:  # noqa: F811
    seed_bank(client, auth, n=2)
    before = ledger(engine)
    assert client.get("/items/export", params={"format": "pdf"}, headers=auth("manager")).status_code == 422
    assert client.get("/items/export", params={"status": "lost"}, headers=auth("manager")).status_code == 422
    assert new_events(engine, before) == []
