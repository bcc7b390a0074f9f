"""Fixtures of the bank-side tests that need a calibrated bank."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from itembank.db import transaction
from itembank.models import CalibrationRun, Item, ItemParameter, TrueParameter
from itembank.services import sample
from itembank.services.actors import Actor


def load_calibrated_bank(engine: Engine, admin: Actor) -> None:
    """The 900-item level-3 sample bank, active, with its true parameters as an approved calibration."""
    with transaction(engine) as session:  # the review itself is tested in test_workflow; here items start active
        sample.load_sample_bank(session, admin, 3, 900, 11)
    with engine.begin() as connection:
        connection.execute(Item.__table__.update().values(status="active"))
    with transaction(engine) as session:
        run = CalibrationRun(name="truth", model="3PL", status="approved", created_by="test")
        session.add(run)
        session.flush()
        session.add_all(ItemParameter(item_id=t.item_id, version=1, run_id=run.id, model=t.model, a=t.a, b=t.b,
                                      c=t.c, status="operational") for t in session.exec(select(TrueParameter)).all())


@pytest.fixture
def calibrated_bank(engine: Engine, staff: dict[str, Actor]) -> Engine:
    """The staff and the calibrated sample bank (:func:`load_calibrated_bank`)."""
    load_calibrated_bank(engine, staff["admin"])
    return engine
