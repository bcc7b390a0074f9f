"""Bank-mode calibration: runs are kept, estimates are provisional until approved, and only approval
changes what the assembler sees."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from calibration.simulate import simulate_dichotomous, to_long
from itembank.db import transaction
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.models import ItemStatus
from itembank.records import ItemRecord
from itembank.services import blueprints, items
from itembank.services import calibration as service
from itembank.services.actors import Actor
from itembank.services.supply import active_item_table
from tests.conftest import small_blueprint_document

N_ITEMS = 15


def _bank(engine: Engine, staff: dict[str, Actor]):
    with transaction(engine) as session:
        bp = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
        records = [(n, ItemRecord(external_id=f"C-{n:02d}", type="single_choice", element="A-A-001", points=1,
                                  stem="题", options={"A": "甲", "B": "乙"}, key="A")) for n in range(N_ITEMS)]
        items.create_items(session, staff["writer"], bp, records, status=ItemStatus.ACTIVE)
    return bp


def _log(seed: int):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.8, 1.8, N_ITEMS), rng.normal(0, 1, N_ITEMS)
    scores = simulate_dichotomous(rng.normal(0, 1, 2500), a, b, 0.0, rng)
    return to_long(scores, [f"p{i}" for i in range(2500)], [f"C-{n:02d}" for n in range(N_ITEMS)]), b


def test_only_an_approved_run_reaches_the_assembler(engine: Engine, staff: dict[str, Actor]) -> None:
    bp = _bank(engine, staff)
    log, true_b = _log(1)
    with transaction(engine) as session:
        service.run_calibration(session, staff["psychometrician"], "spring", log, "2PL")
    with transaction(engine) as session:
        assert active_item_table(session, bp)["b"].isna().all()  # provisional changes nothing operational
        estimates = service.run_parameters(session, "spring").set_index("item_id")
        assert (estimates["status"] == "provisional").all()
        service.approve_run(session, staff["psychometrician"], "spring")
    with transaction(engine) as session:
        seen = active_item_table(session, bp).set_index("item_id")["b"]
    order = [f"C-{n:02d}" for n in range(N_ITEMS)]
    assert np.allclose(seen.loc[order].to_numpy(), estimates.loc[order, "b"].to_numpy())
    assert np.sqrt(np.mean((seen.loc[order].to_numpy() - true_b) ** 2)) < 0.15  # 2,500 persons, 15 items

    log2, _ = _log(2)
    with transaction(engine) as session:  # a second run holds the operational items fixed: nothing re-estimated
        second = service.run_calibration(session, staff["psychometrician"], "autumn", log2, "2PL")
        assert second.summary["fixed_items"] == N_ITEMS
        with pytest.raises(Conflict, match="never overwritten"):
            service.run_calibration(session, staff["psychometrician"], "autumn", log2, "2PL")


def test_bad_logs_and_wrong_roles_store_nothing(engine: Engine, staff: dict[str, Actor]) -> None:
    _bank(engine, staff)
    log, _ = _log(3)
    with pytest.raises(ValidationError, match="not in the bank"), transaction(engine) as session:
        service.run_calibration(session, staff["psychometrician"], "x", log.assign(item_id="NOPE"), "2PL")
    with pytest.raises(Forbidden), transaction(engine) as session:
        service.run_calibration(session, staff["manager"], "x", log, "2PL")
    with transaction(engine) as session:
        from sqlmodel import select

        from itembank.models import CalibrationRun

        assert session.exec(select(CalibrationRun)).first() is None
