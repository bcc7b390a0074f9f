"""The bank health report finds empty and thin elements, importance shares and unknown elements."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from itembank.db import transaction
from itembank.models import Item, ItemStatus
from itembank.records import ItemRecord
from itembank.services import blueprints, health, items
from itembank.services.actors import Actor
from tests.conftest import small_blueprint_document


def _record(n: int, element: str, points: float = 1) -> tuple[int, ItemRecord]:
    return n, ItemRecord(external_id=f"H-{n}", type="single_choice", element=element, points=points,
                         stem="题", options={"A": "甲", "B": "乙"}, key="A")


def test_health_counts_active_supply_and_flags_problems(engine: Engine, staff: dict[str, Actor]) -> None:
    with transaction(engine) as session:
        bp = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
        records = [_record(i, "A-A-001") for i in range(6)] + [_record(10, "B-A-001")] + [_record(11, "B-B-002", 2)]
        records += [_record(20 + i, "A-A-002") for i in range(3)]
        stored = items.create_items(session, staff["writer"], bp, records, status=ItemStatus.ACTIVE)
        stored[-1].status = ItemStatus.RETIRED  # a retired item is not supply
        session.add(stored[-1])
    with transaction(engine) as session:
        report = health.bank_health(session, bp, min_items=2)
    cells = report.cells.set_index("element")
    assert cells.loc["A-A-001", "active"] == 6
    assert cells.loc["A-A-002", "active"] == 2
    assert cells.loc["B-B-001", "active"] == 0
    assert report.thin_elements == ["B-A-001", "B-B-001", "B-B-002"]
    shares = report.importance.set_index("importance")["share"]
    assert shares["X"] == pytest.approx(7 / 11) and shares["Y"] == pytest.approx(2 / 11) and shares["Z"] == pytest.approx(2 / 11)
    text = " ".join(report.problems)
    assert "1 element(s) have no active item: B-B-001" in text
    assert "X items hold 64% of active points, below 80%" in text
    assert not report.ok


def test_items_keyed_to_unknown_elements_are_reported(engine: Engine, staff: dict[str, Actor]) -> None:
    with transaction(engine) as session:
        old = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document("1"))
        items.create_items(session, staff["writer"], old, [_record(1, "B-B-002")], status=ItemStatus.ACTIVE)
        document = small_blueprint_document("2")
        document["nodes"][1]["children"][1]["children"].pop()  # version 2 drops element B-B-002
        new = blueprints.import_blueprint(session, staff["manager"], document)
    with transaction(engine) as session:
        report = health.bank_health(session, new)
        assert session.get(Item, 1) is not None
    assert report.unknown_elements == ["B-B-002"]
