"""Bank-mode calibration: runs are kept, estimates are provisional until approved, and only approval
changes what the assembler sees."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from calibration import ResponseLogWarning
from calibration.simulate import simulate_dichotomous, to_long
from itembank.db import transaction
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.models import CalibrationRun, Item, ItemParameter, ItemStatus
from itembank.records import ItemRecord
from itembank.services import blueprints, items
from itembank.services import calibration as service
from itembank.services.actors import Actor
from itembank.services.supply import active_item_table
from tests.conftest import hold_after, small_blueprint_document
from tests.itembank.test_delivery import _race

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
    with pytest.raises(ValidationError, match="作答记录的列 groups 未识别，是否应为 group？") as caught, \
            transaction(engine) as session:  # the groups would be ignored: one group fitted instead of two
        service.run_calibration(session, staff["psychometrician"], "x", log.assign(groups="A"), "2PL")
    assert caught.value.field == "groups"
    with transaction(engine) as session:
        from sqlmodel import select

        from itembank.models import CalibrationRun

        assert session.exec(select(CalibrationRun)).first() is None


def test_an_unknown_log_column_is_one_warning_and_the_run_is_stored(engine: Engine, staff: dict[str, Actor]) -> None:
    """The calibration core warns (the command line shows it); the service adds no second warning of its own."""
    _bank(engine, staff)
    log, _ = _log(5)
    with pytest.warns(ResponseLogWarning) as caught, transaction(engine) as session:
        service.run_calibration(session, staff["psychometrician"], "noted", log.iloc[:4500].assign(note="x"), "1PL")
    assert [str(w.message) for w in caught if w.category is ResponseLogWarning] == ["作答记录的列 note 未识别，已忽略"]


def _mixed_bank(engine: Engine, staff: dict[str, Actor]) -> list[str]:
    """Ten single-choice and ten true/false items, active; returns their ids, single choice first."""
    kinds = [("S", "single_choice", {"A": "甲", "B": "乙", "C": "丙", "D": "丁"}, "A")] * 10 + [("T", "true_false", None, "T")] * 10
    with transaction(engine) as session:
        bp = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
        records = [(n, ItemRecord(external_id=f"{prefix}-{n:02d}", type=kind, element="A-A-001", points=1, stem="题",
                                  options=options, key=key)) for n, (prefix, kind, options, key) in enumerate(kinds)]
        items.create_items(session, staff["writer"], bp, records, status=ItemStatus.ACTIVE)
    return [r.external_id for _, r in records]


def test_a_model_per_item_type_fits_guessing_where_it_is(engine: Engine, staff: dict[str, Actor]) -> None:
    ids = _mixed_bank(engine, staff)
    rng = np.random.default_rng(11)
    a, b = rng.uniform(1.0, 2.0, 20), rng.uniform(-1.0, 1.5, 20)
    c = np.r_[rng.uniform(0.15, 0.25, 10), np.zeros(10)]  # guessing on the four-option items only
    n_persons = 4000
    scores = simulate_dichotomous(rng.normal(0, 1, n_persons), a, b, c, rng)
    log = to_long(scores, [f"p{i}" for i in range(n_persons)], ids)
    with transaction(engine) as session:
        with pytest.raises(ValidationError) as bad:
            service.run_calibration(session, staff["psychometrician"], "x", log, {"short_answer": "3PL"})
        assert bad.value.field == "model[short_answer]"
        with pytest.raises(ValidationError, match="one of"):
            service.run_calibration(session, staff["psychometrician"], "x", log, {"single_choice": "GRM"})
        run = service.run_calibration(session, staff["psychometrician"], "mixed", log,
                                      {"single_choice": "3PL", "true_false": "2PL"})
        service.run_calibration(session, staff["psychometrician"], "all-2pl", log, "2PL")
        estimates = service.run_parameters(session, "mixed").set_index("item_id").loc[ids]
        two_pl = service.run_parameters(session, "all-2pl").set_index("item_id").loc[ids]
    assert run.model == "2PL/3PL" and run.summary["models"] == {"single_choice": "3PL", "true_false": "2PL"}
    assert estimates["model"].tolist() == ["3PL"] * 10 + ["2PL"] * 10
    assert estimates.iloc[10:]["c"].fillna(0.0).abs().max() < 1e-6

    def rmse(estimated: np.ndarray, truth: np.ndarray) -> float:
        return float(np.sqrt(np.mean((estimated - truth) ** 2)))

    # 4,000 persons, 1 ≤ a ≤ 2: every b within 0.35 of the truth, c recovered to a few hundredths (true sd 0.03),
    # and the guessing items' b clearly better than a 2PL fit manages (which pulls b down to absorb c).
    assert np.abs(estimates["b"].to_numpy() - b).max() < 0.35
    assert rmse(estimates.iloc[:10]["c"].to_numpy(), c[:10]) < 0.05
    assert rmse(estimates.iloc[:10]["b"].to_numpy(), b[:10]) < 0.5 * rmse(two_pl.iloc[:10]["b"].to_numpy(), b[:10])


def test_two_runs_approved_at_once_leave_one_operational_estimate_per_item(
    engine: Engine, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two psychometricians approve two runs that estimated the same item: the later approval supersedes
    the earlier one's estimate, so the assembler never sees two operational values for one item version."""
    _bank(engine, staff)
    with transaction(engine) as session:
        item_id = session.exec(select(Item.id).where(Item.external_id == "C-00")).one()
        for name, b in (("run-a", 0.1), ("run-b", 0.2)):
            run = CalibrationRun(name=name, model="2PL", created_by="psychometrician")
            session.add(run)
            session.flush()
            session.add(ItemParameter(item_id=item_id, version=1, run_id=run.id, model="2PL", a=1.0, b=b))  # type: ignore[arg-type]
    hold_after(monkeypatch, service, "get_run")

    def approve(name: str) -> Callable[[], None]:
        def run() -> None:
            with transaction(engine) as session:
                service.approve_run(session, staff["psychometrician"], name)
        return run

    assert _race(engine, [approve("run-a"), approve("run-b")]) == [None, None]
    with transaction(engine) as session:
        statuses = session.exec(select(ItemParameter.status).where(ItemParameter.item_id == item_id)).all()
    assert sorted(statuses) == ["operational", "superseded"]


def test_two_runs_of_one_name_at_once_store_one_and_refuse_the_other(
    engine: Engine, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both runs pass the early name check (held together right after it) and fit; the name is checked again
    under the ledger head before the run is stored, so the second is a 409 naming 'name', not a database error."""
    _bank(engine, staff)
    log, _ = _log(3)
    hold_after(monkeypatch, service, "_bank_items")

    def run() -> None:
        with transaction(engine) as session:
            service.run_calibration(session, staff["psychometrician"], "spring", log, "2PL")

    outcomes = _race(engine, [run, run])
    refused = [o for o in outcomes if o is not None]
    assert len(refused) == 1 and isinstance(refused[0], Conflict) and refused[0].field == "name", outcomes
    with transaction(engine) as session:
        assert len(session.exec(select(CalibrationRun).where(CalibrationRun.name == "spring")).all()) == 1
