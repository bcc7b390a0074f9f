"""Responses from exam engines: idempotent batches, bank-side scoring, exact exposure, results, rescoring."""

from __future__ import annotations

import base64
from typing import Any

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from itembank import audit
from itembank.db import transaction
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.models import Handover, Item, Paper, PaperStatus, Response, ResponseBatch, Role
from itembank.sealing import SealedPackage, load_public_key, open_sealed
from itembank.services import delivery, responses
from itembank.services.actors import Actor
from tests.itembank.test_delivery import (  # noqa: F401
    NOW,
    _race,
    bank,
    data_key,
    hold_at_paper_moves,
    make_paper,
    seal,
)

CORRECT = {"D-001": "B", "D-002": "D", "D-003": "AC", "D-004": "T", "D-005": "A", "D-006": "答案"}
pytestmark = pytest.mark.usefixtures("bank")
"""Every test runs on the delivery tests' bank: staff, a second engine and six active items."""


def answers(person: str, **changes: str | None) -> list[dict[str, Any]]:
    return [{"person_id": person, "item_id": i, "response": changes.get(i.replace("-", "_"), r)} for i, r in CORRECT.items()]


@pytest.fixture
def sealed_paper(engine: Engine, staff: dict[str, Actor]) -> int:
    paper_id = make_paper(engine)
    seal(engine, staff["manager"], paper_id)
    with transaction(engine) as session:
        delivery.pull_package(session, staff["engine1"], paper_id)
    return paper_id


def submit(engine: Engine, actor: Actor, paper_id: int, batch_id: str, rows: list[dict[str, Any]]) -> ResponseBatch:
    with transaction(engine) as session:
        return responses.submit_responses(session, actor, paper_id, batch_id, rows)


def exposure(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        return {i.external_id: i.exposure_count for i in session.exec(select(Item)).all()}


def test_submission_is_scored_by_the_bank_and_idempotent(engine: Engine, staff: dict[str, Actor], sealed_paper: int) -> None:
    rows = answers("c1") + answers("c2", D_001="A", D_003="A", D_004="错", D_006=None)
    first = submit(engine, staff["engine1"], sealed_paper, "b-1", rows)
    again = submit(engine, staff["engine1"], sealed_paper, "b-1", list(reversed(rows)))
    assert again.id == first.id and first.n_responses == 12
    with transaction(engine) as session:
        stored = session.exec(select(Response.person_id, Item.external_id, Response.score)
                              .join(Item, col(Item.id) == Response.item_id)).all()
        assert session.get(Paper, sealed_paper).status == PaperStatus.ADMINISTERED  # type: ignore[union-attr]
    scores = {(p, i): s for p, i, s in stored}
    assert len(stored) == 12
    assert [scores[("c1", i)] for i in CORRECT] == [2, 2, 4, 2, 2, None]
    assert [scores[("c2", i)] for i in CORRECT] == [0, 2, 0, 0, 2, None]
    assert exposure(engine) == dict.fromkeys(CORRECT, 2)

    with pytest.raises(Conflict, match="different content"):
        submit(engine, staff["engine1"], sealed_paper, "b-1", answers("c1", D_001="C"))
    with pytest.raises(Conflict, match="already stored"):
        submit(engine, staff["engine1"], sealed_paper, "b-2", answers("c1"))
    assert exposure(engine) == dict.fromkeys(CORRECT, 2)


def test_bad_rows_are_all_named(engine: Engine, staff: dict[str, Actor], sealed_paper: int) -> None:
    rows = answers("c1") + [
        {"person_id": "c2", "item_id": "X-999", "response": "A"},
        {"person_id": "", "item_id": "D-001", "response": "A"},
        {"person_id": "c1", "item_id": "D-001", "response": "B"},
    ]
    with pytest.raises(ValidationError) as bad:
        submit(engine, staff["engine1"], sealed_paper, "b-1", rows)
    assert [(p["row"], p["field"]) for p in bad.value.details] == [(6, "item_id"), (7, "person_id"), (8, "item_id")]
    with pytest.raises(ValidationError, match="malformed"):
        submit(engine, staff["engine1"], sealed_paper, "b-1", answers("c1", D_001="AB"))
    with pytest.raises(Forbidden):
        submit(engine, Actor("engine2", Role.EXAM_ENGINE), sealed_paper, "b-1", answers("c1"))
    with transaction(engine) as session:
        assert session.exec(select(ResponseBatch)).all() == []
    assert exposure(engine) == dict.fromkeys(CORRECT, 0)


def test_results_grading_rescoring_and_response_log(engine: Engine, staff: dict[str, Actor], sealed_paper: int) -> None:
    submit(engine, staff["engine1"], sealed_paper, "b-1",
           answers("c1") + answers("c2", D_001="A", D_003="A", D_004="F"))
    with transaction(engine) as session:
        with pytest.raises(ValidationError, match="no grader score"):
            responses.paper_results(session, staff["manager"], sealed_paper)
        with pytest.raises(ValidationError) as bad:
            responses.grade_subjective(session, staff["psychometrician"], sealed_paper,
                                       [{"person_id": "c1", "item_id": "D-006", "score": 9}])
        assert bad.value.field == "scores[0].score"
        responses.grade_subjective(session, staff["psychometrician"], sealed_paper, [
            {"person_id": "c1", "item_id": "D-006", "score": 6}, {"person_id": "c2", "item_id": "D-006", "score": 2}])
        results = responses.paper_results(session, staff["manager"], sealed_paper).set_index("person_id")
    # c1: 12/12 objective + 6/8 = 18/20; c2: 2 + 2 = 4 objective + 2 = 6/20
    assert results.loc["c1", ["raw", "max"]].tolist() == [18, 20] and bool(results.loc["c1", "passed"])
    assert results.loc["c2", "score_100"] == pytest.approx(30.0, abs=1e-9)

    with transaction(engine) as session:
        log = responses.response_log(session, staff["psychometrician"]).set_index(["person_id", "item_id"])
    assert len(log) == 12 and set(log["group"]) == {"P-1"}
    assert log.loc[("c1", "D-003"), "score"] == 1.0 and log.loc[("c2", "D-006"), "score"] == 2.0

    with transaction(engine) as session:
        credited = responses.rescore(session, staff["manager"], sealed_paper, "D-001", "credit_all").set_index("person_id")
    assert credited.loc["c2", "raw"] == 8 and credited.loc["c2", "max"] == 20
    with transaction(engine) as session:
        dropped = responses.rescore(session, staff["manager"], sealed_paper, "D-003", "drop").set_index("person_id")
        log = responses.response_log(session, staff["psychometrician"])
    assert dropped.loc["c1", ["raw", "max"]].tolist() == [14, 16]
    assert dropped.loc["c2", "score_100"] == pytest.approx(100 * 8 / 16, abs=1e-9)
    assert set(log["item_id"]) == {"D-002", "D-004", "D-005", "D-006"}


def test_variant_responses_are_scored_in_the_banks_labels(engine: Engine, staff: dict[str, Actor]) -> None:
    paper_id = make_paper(engine)
    seal(engine, staff["manager"], paper_id, variant_seed=11)
    with transaction(engine) as session:
        raw = delivery.pull_package(session, staff["engine1"], paper_id)
        key = base64.b64decode(delivery.release_key(session, staff["engine1"], paper_id, now=NOW))
        public = load_public_key(delivery.public_key_pem(session))
    content = open_sealed(SealedPackage.from_dict(raw), key, public)
    presented = {i["item_id"]: {o["text"]: o["label"] for o in i["options"]} for s in content["sections"] for i in s["items"]}
    rows = [{"person_id": "c1", "item_id": i, "response": presented["D-001"]["乙"] if i == "D-001" else r}
            for i, r in CORRECT.items() if i in ("D-001", "D-004")]
    submit(engine, staff["engine1"], paper_id, "b-v", rows)
    with transaction(engine) as session:
        stored = session.exec(select(Response.response, Response.score).order_by(col(Response.item_id))).all()
    assert stored[0] == ("B", 2.0)


def test_twenty_concurrent_batches_keep_exposure_exact(engine: Engine, staff: dict[str, Actor], sealed_paper: int) -> None:
    batches = [answers(f"c{n}a") + answers(f"c{n}b") for n in range(20)]
    retry = batches[3]
    work = [lambda n=n: submit(engine, staff["engine1"], sealed_paper, f"b-{n}", batches[n]) for n in range(20)]
    outcomes = _race(engine, [*work, lambda: submit(engine, staff["engine1"], sealed_paper, "b-3", retry)])
    assert outcomes == [None] * 21
    assert exposure(engine) == dict.fromkeys(CORRECT, 40)
    with transaction(engine) as session:
        assert len(session.exec(select(ResponseBatch)).all()) == 20
        frame = pd.DataFrame(session.exec(select(Response.person_id)).all(), columns=["person_id"])
        last_used = session.exec(select(Item.last_used)).all()
    assert frame["person_id"].nunique() == 40 and len(frame) == 240
    assert all(moment is not None for moment in last_used)


def test_the_first_response_batch_and_the_first_key_release_of_one_paper_do_not_deadlock(
    engine: Engine, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exam day with staggered sessions: one site sends its candidates' responses while another asks for the
    key. The batch moves the paper to administered, the release to released: neither may end as a deadlock."""
    paper_id = make_paper(engine)
    seal(engine, staff["manager"], paper_id, engines=["engine1", "engine2"])
    with transaction(engine) as session:
        delivery.pull_package(session, staff["engine1"], paper_id)
    hold_at_paper_moves(monkeypatch, holding=PaperStatus.ADMINISTERED, reaching=PaperStatus.RELEASED)
    outcomes = _race(engine, [lambda: submit(engine, staff["engine1"], paper_id, "b-1", answers("c1")),
                              lambda: data_key(engine, Actor("engine2", Role.EXAM_ENGINE), paper_id)])
    assert outcomes == [None, None]
    with transaction(engine) as session:
        assert audit.verify(session).ok
        assert [h.action for h in session.exec(select(Handover).order_by(col(Handover.id))).all()] == [
            "pull", "key_release"]
