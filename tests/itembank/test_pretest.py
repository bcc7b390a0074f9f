"""Pretest blocks: accepted items ride along a paper unscored; their responses are stored, scored and logged
for calibration, and never change a candidate's result."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from itembank.db import transaction
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.models import Blueprint, ItemStatus
from itembank.records import ItemRecord
from itembank.sealing import SealedPackage, load_public_key, open_sealed
from itembank.services import delivery, items, papers, responses
from itembank.services.actors import Actor
from tests.itembank.test_delivery import CHOICES, bank, data_key, make_paper, seal  # noqa: F401
from tests.itembank.test_responses import answers, exposure, submit

pytestmark = pytest.mark.usefixtures("bank")

NEW_ITEMS = [
    ItemRecord(external_id="N-001", type="single_choice", element="A-A-001", points=1, stem="新题一", options=CHOICES, key="C"),
    ItemRecord(external_id="N-002", type="true_false", element="A-A-002", points=1, stem="新题二", key="F"),
    ItemRecord(external_id="N-003", type="short_answer", element="B-B-002", points=6, stem="新题三", rubric="要点"),
    ItemRecord(external_id="N-004", type="single_choice", element="A-A-001", points=1, stem="新题四", options=CHOICES, key="A"),
]


def add_new_items(engine: Engine, staff: dict[str, Actor]) -> None:
    """N-001..N-003 accepted, N-004 still a draft; added after the paper because ``make_paper`` takes every item."""
    with transaction(engine) as session:
        blueprint = session.exec(select(Blueprint)).one()
        items.create_items(session, staff["writer"], blueprint, list(enumerate(NEW_ITEMS[:3])), status=ItemStatus.ACCEPTED)
        items.create_items(session, staff["writer"], blueprint, [(3, NEW_ITEMS[3])])


def attach(engine: Engine, actor: Actor, paper_id: int, external_ids: list[str]) -> None:
    with transaction(engine) as session:
        responses.attach_pretest_items(session, actor, paper_id, external_ids)


def test_only_accepted_objective_items_off_the_paper_join_before_sealing(engine: Engine, staff: dict[str, Actor]) -> None:
    paper_id = make_paper(engine)
    add_new_items(engine, staff)
    with pytest.raises(ValidationError) as refused:
        attach(engine, staff["manager"], paper_id, ["N-001", "D-001", "N-003", "N-004", "NOPE"])
    assert refused.value.field == "external_ids"
    problems = " ".join(refused.value.details)
    for expected in ("D-001 is already on the paper", "N-003 is not an objective item", "N-004 is draft",
                     "NOPE is not in the bank"):
        assert expected in problems
    assert "N-001" not in problems
    with pytest.raises(ValidationError, match="no items"):
        attach(engine, staff["manager"], paper_id, [])
    with pytest.raises(Forbidden):
        attach(engine, staff["psychometrician"], paper_id, ["N-001"])

    attach(engine, staff["manager"], paper_id, ["N-001", "N-002"])
    seal(engine, staff["manager"], paper_id)
    with pytest.raises(Conflict, match="before sealing"):
        attach(engine, staff["manager"], paper_id, ["N-001"])


def test_pretest_responses_are_scored_and_logged_but_never_count(engine: Engine, staff: dict[str, Actor]) -> None:
    paper_id = make_paper(engine)
    add_new_items(engine, staff)
    attach(engine, staff["manager"], paper_id, ["N-001", "N-002"])
    seal(engine, staff["manager"], paper_id)
    with transaction(engine) as session:
        sealed = SealedPackage.from_dict(delivery.pull_package(session, staff["engine1"], paper_id))
        public = load_public_key(delivery.public_key_pem(session))
    content = open_sealed(sealed, data_key(engine, staff["engine1"], paper_id), public)
    *scored_sections, block = content["sections"]
    assert block["name"] == "pretest" and [i["item_id"] for i in block["items"]] == ["N-001", "N-002"]
    assert all(i["scored"] is False for i in block["items"]), "candidates are told the block does not count"
    assert not any("scored" in i for s in scored_sections for i in s["items"])
    assert content["paper"]["total_points"] == 20, "the paper's total is the scored total"
    pretest = [{"person_id": "c1", "item_id": "N-001", "response": "C"}, {"person_id": "c1", "item_id": "N-002", "response": "T"},
               {"person_id": "c2", "item_id": "N-001", "response": "B"}, {"person_id": "c2", "item_id": "N-002", "response": "F"}]
    submit(engine, staff["engine1"], paper_id, "b-1", answers("c1") + answers("c2", D_001="A") + pretest)
    with transaction(engine) as session:
        responses.grade_subjective(session, staff["psychometrician"], paper_id, [
            {"person_id": "c1", "item_id": "D-006", "score": 8}, {"person_id": "c2", "item_id": "D-006", "score": 8}])
        results = responses.paper_results(session, staff["manager"], paper_id).set_index("person_id")
        log = responses.response_log(session, staff["psychometrician"]).set_index(["person_id", "item_id"])
    # The paper is worth 20 whatever the pretest block holds; c2 missed D-001 (2 points) only.
    assert results["max"].tolist() == [20, 20]
    assert results.loc["c1", "raw"] == 20 and results.loc["c2", "raw"] == 18
    assert [log.loc[(p, i), "score"] for p in ("c1", "c2") for i in ("N-001", "N-002")] == [1.0, 0.0, 0.0, 1.0]
    assert set(log.loc[(slice(None), ["N-001", "N-002"]), "group"]) == {"P-1"}
    assert len(log) == 16
    seen = exposure(engine)
    assert seen["N-001"] == seen["N-002"] == seen["D-001"] == 2 and seen["N-003"] == 0



def test_exposed_pretest_items_are_kept_out_of_new_backups(engine: Engine, staff: dict[str, Actor]) -> None:
    """Candidates see the pretest block as much as the paper's own items; replacement backups avoid both."""
    paper_id = make_paper(engine)
    add_new_items(engine, staff)
    attach(engine, staff["manager"], paper_id, ["N-001", "N-002"])
    with transaction(engine) as session:
        assert papers.papers_in_use(session)["P-1"][-2:] == ["N-001", "N-002"]
