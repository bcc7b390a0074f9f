"""Records are retained and versions immutable whatever code tries; migrations match the models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from itembank.db import downgrade, transaction, upgrade
from itembank.errors import Conflict, NotFound, RetentionViolation, ValidationError
from itembank.models import AuditEvent, Handover, Item, ItemVersion
from itembank.models.base import utcnow
from itembank.records import ItemRecord
from itembank.services import blueprints, delivery, items
from itembank.services.actors import Actor
from tests.conftest import add_staff, hold_after, new_engine, small_blueprint_document
from tests.itembank.test_delivery import _race


def _item(engine: Engine, staff: dict[str, Actor]) -> str:
    with transaction(engine) as session:
        bp = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
        record = ItemRecord(external_id="R-1", type="true_false", element="A-A-001", points=1, stem="判断题", key="T")
        return items.create_items(session, staff["writer"], bp, [(2, record)])[0].external_id


def test_delete_inside_retention_is_refused_and_nothing_changes(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _item(engine, staff)
    with pytest.raises(RetentionViolation, match="5-year retention period.*retire it instead"), transaction(engine) as session:
        session.delete(items.get_item(session, external_id))
    with transaction(engine) as session:
        assert items.get_item(session, external_id).status == "draft"


def test_delete_after_retention_is_allowed(engine: Engine, staff: dict[str, Actor]) -> None:
    with transaction(engine) as session:
        event = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).first()
        assert event is not None
    with engine.begin() as connection:  # age the record past the retention period
        connection.execute(AuditEvent.__table__.update().where(AuditEvent.__table__.c.seq == event.seq)
                           .values(at=utcnow() - timedelta(days=365 * 6)))
    with transaction(engine) as session:
        session.delete(session.get(AuditEvent, event.seq))


def test_versions_cannot_be_edited_in_place(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _item(engine, staff)
    with pytest.raises(Conflict, match="immutable"), transaction(engine) as session:
        item = items.get_item(session, external_id)
        version = session.exec(select(ItemVersion).where(ItemVersion.item_id == item.id)).one()
        version.stem = "偷偷改掉"
        session.add(version)
    with transaction(engine) as session:
        item = session.exec(select(Item).where(Item.external_id == external_id)).one()
        assert items.current_version(session, item).stem == "判断题"


def test_alembic_migrations_build_exactly_the_models(backend: str, tmp_path) -> None:
    engine, dispose = new_engine(backend, tmp_path)
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    finally:
        dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_handover_migration_keeps_every_handover_and_finds_its_paper(backend: str, tmp_path) -> None:
    """0002 adds the paper asked for to each handover row; rows written under 0001 get it from their package."""
    from tests.itembank.test_delivery import RECORDS, make_paper, seal

    engine, dispose = new_engine(backend, tmp_path)
    try:
        upgrade(engine)
        staff = add_staff(engine)
        with transaction(engine) as session:
            blueprint = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
            items.create_items(session, staff["writer"], blueprint, list(enumerate(RECORDS)), status="active")
        paper_id = make_paper(engine)
        seal(engine, staff["manager"], paper_id)
        with transaction(engine) as session:
            delivery.pull_package(session, staff["engine1"], paper_id)
        with pytest.raises(NotFound), transaction(engine) as session:
            delivery.pull_package(session, staff["engine1"], paper_id + 1000)
        downgrade(engine, "0001")
        with engine.connect() as connection:
            assert connection.execute(text("select count(*) from handovers")).scalar() == 1, \
                "0001 cannot hold a refusal without a package; the pull stays"
        upgrade(engine)
        with transaction(engine) as session:
            (row,) = session.exec(select(Handover)).all()
            assert (row.paper_id, row.action) == (paper_id, "pull")
    finally:
        dispose()


def test_one_item_imported_twice_at_once_is_stored_once_and_the_other_import_is_refused(
    engine: Engine, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers import spreadsheets holding the same item id at the same moment (both held after they
    read the blueprint). One import stores it; the other is refused by name, not failed by the database."""
    with transaction(engine) as session:
        blueprint = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
    record = ItemRecord(external_id="T-00001", type="single_choice", element="A-A-001", points=1, stem="题",
                        options={"A": "甲", "B": "乙"}, key="B", set_id="S-1", stimulus="材料", enemy_groups=["E-1"])
    hold_after(monkeypatch, items, "element_codes")

    def create(writer: str) -> Any:
        def run() -> None:
            with transaction(engine) as session:
                items.create_items(session, staff[writer], blueprint, [(2, record)])
        return run

    outcomes = _race(engine, [create("writer"), create("writer2")])
    refused = [o for o in outcomes if o is not None]
    assert len(refused) == 1 and isinstance(refused[0], ValidationError), outcomes
    assert refused[0].field == "external_id" and "already in the bank" in refused[0].message
    with transaction(engine) as session:
        assert len(session.exec(select(Item).where(Item.external_id == "T-00001")).all()) == 1
