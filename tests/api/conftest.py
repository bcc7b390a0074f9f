"""API fixtures: the app over the shared ``engine`` fixture (SQLite and PostgreSQL), one token per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from itembank.db import transaction
from itembank.models import ItemStatus, Role
from itembank.services import blueprints, items
from itembank.services.actors import SYSTEM, Actor
from itembank.services.users import add_user
from tests.conftest import STAFF, small_blueprint_document
from tests.itembank.test_delivery import RECORDS, make_paper

ROLE_USER = {role: next(name for name, r in STAFF.items() if r == role) for role in Role}
"""One user name per role (the first in STAFF holding it)."""


@pytest.fixture
def tokens(engine: Engine) -> dict[str, str]:
    """The users of STAFF created through the service, with their one-time tokens."""
    issued = {}
    with transaction(engine) as session:
        _, issued["admin"] = add_user(session, SYSTEM, "admin", Role.ADMIN)
        for name, role in STAFF.items():
            if name != "admin":
                _, issued[name] = add_user(session, Actor("admin", Role.ADMIN), name, role)
    return issued


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine, tokens: dict[str, str]) -> Iterator[TestClient]:
    """A client of an app on the test database (schema made by the fixture, so no migration)."""
    app = create_app(engine, migrate=False, job_threads=1)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def auth(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """``auth("manager")``: the Authorization header of that user."""
    return lambda name: bearer(tokens[name])


def seal_window(hours_from_now: float = -1.0, length_hours: float = 3.0) -> dict[str, str]:
    """A release window relative to now, as the seal request body spells it."""
    start = datetime.now(UTC) + timedelta(hours=hours_from_now)
    return {"not_before": start.isoformat(), "not_after": (start + timedelta(hours=length_hours)).isoformat()}


@pytest.fixture
def sealed_paper(engine: Engine, client: TestClient, auth: Callable[[str], dict[str, str]]) -> int:
    """The delivery tests' six active items on one approved paper, sealed through the API for engine1,
    with its release window open now."""
    with transaction(engine) as session:
        blueprint = blueprints.import_blueprint(session, Actor("manager", Role.BANK_MANAGER), small_blueprint_document("d"))
        items.create_items(session, Actor("writer", Role.ITEM_WRITER), blueprint, list(enumerate(RECORDS)),
                           status=ItemStatus.ACTIVE)
    paper_id = make_paper(engine)
    sealed = client.post(f"/papers/{paper_id}/seal", json={**seal_window(), "engines": ["engine1"]}, headers=auth("manager"))
    assert sealed.status_code == 201, sealed.text
    return paper_id
