"""Bank mode: LOFT sessions and CAT pools sealed, pulled, run offline by the engine, sent back and scored,
every form and item choice reconstructible from the ledger; a leak compromises and re-assembles."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import select

from assembly.information import probability
from itembank import audit, sealing
from itembank.adaptive import TamperedLog
from itembank.db import transaction
from itembank.engine_offline import CatPackage, LoftPackage, open_session
from itembank.errors import Conflict, Infeasible, IntegrityFailure, ValidationError
from itembank.hashing import canonical_json
from itembank.models import CandidateForm, ExamSession, Item, ItemVersion, Paper, SealedPaper
from itembank.models.base import utcnow
from itembank.sample_bank import DATA_DIR
from itembank.services import delivery, exam_results, exam_sessions, incidents, papers
from itembank.services.actors import Actor

SPEC = yaml.safe_load((DATA_DIR / "specs" / "hr-manager-l3-theory.yaml").read_text(encoding="utf-8"))
TICKETS = [f"2026030{n:03d}" for n in range(1, 21)]
LOFT = {"max_exposure": 0.5, "max_mean_overlap": 0.3, "seed": 3}
"""20 papers of 80 items from 900: each item on at most half of them (the default quarter is too tight, see below)."""
CAT = {"length": 12, "max_exposure": 0.5, "share": 0.6, "seed": 4}


def sid(exam: ExamSession) -> int:
    assert exam.id is not None
    return exam.id


def window() -> dict[str, Any]:
    start = utcnow() - timedelta(minutes=5)
    return {"not_before": start, "not_after": start + timedelta(hours=3)}


def deliver(engine: Engine, staff: dict[str, Actor], exam: ExamSession) -> dict[str, Any]:
    """Approve and seal the carrier paper, then the engine pulls it, gets the key and opens it."""
    with transaction(engine) as session:
        papers.approve_paper(session, staff["manager"], exam.paper_id)
        delivery.seal_paper(session, staff["manager"], exam.paper_id, engines=["engine1"], **window())
    with transaction(engine) as session:
        package = sealing.SealedPackage.from_dict(delivery.pull_package(session, staff["engine1"], exam.paper_id))
    with transaction(engine) as session:
        key = base64.b64decode(delivery.release_key(session, staff["engine1"], exam.paper_id))
        public = sealing.load_public_key(delivery.public_key_pem(session))
    return sealing.open_sealed(package, key, public)


def stems_and_keys(engine: Engine, item_ids: list[str]) -> list[str]:
    with transaction(engine) as session:
        rows = session.exec(select(ItemVersion.stem).join(Item, Item.id == ItemVersion.item_id)  # type: ignore[arg-type]
                            .where(Item.external_id.in_(item_ids[:10]))).all()  # type: ignore[attr-defined]
    return list(rows)


def test_a_loft_session_runs_offline_from_its_sealed_package(calibrated_bank: Engine, staff: dict[str, Actor]) -> None:
    engine = calibrated_bank
    with transaction(engine) as session:
        exam = exam_sessions.assemble_loft_session(session, staff["manager"], SPEC, TICKETS, level=3, **LOFT)
    with transaction(engine) as session:
        checks = exam_sessions.verify_forms(session, staff["auditor"], sid(exam))
        stored = {f.ticket: f.item_ids for f in exam_sessions.forms(session, exam)}
    assert checks["ok"].all(), checks.loc[~checks["ok"]]
    assert sorted(stored) == TICKETS and len({tuple(sorted(v)) for v in stored.values()}) == len(TICKETS)

    opened = deliver(engine, staff, exam)
    with transaction(engine) as session:
        sealed_row = session.exec(select(SealedPaper).where(SealedPaper.paper_id == exam.paper_id)).one()
    at_rest = canonical_json(sealed_row.package).decode()
    assert all(stem not in at_rest for stem in stems_and_keys(engine, stored[TICKETS[0]]))
    assert TICKETS[0] not in at_rest and "answer_key" not in opened, "LOFT ships no keys; nothing readable at rest"

    offline = open_session(opened)  # from here on the engine needs no network until it sends responses
    assert isinstance(offline, LoftPackage) and offline.tickets == TICKETS
    rows = []
    with transaction(engine) as session:
        keyed = papers.paper_items(session, staff["manager"], exam.paper_id).set_index("item_id")
        for n, ticket in enumerate(TICKETS):
            form = offline.form(ticket)
            assert form["item_ids"] == stored[ticket] and form["paper"]["total_points"] == pytest.approx(100)
            exam_sessions.verify_loft_form(session, staff["engine1"], sid(exam), ticket, form["item_ids"])
            given = [i for s in form["sections"] for i in s["items"]]
            rows += [{"person_id": ticket, "item_id": i["item_id"],
                      "response": keyed.at[i["item_id"], "key"] if k < 40 + n else None} for k, i in enumerate(given)]
        with pytest.raises(IntegrityFailure) as swapped:
            exam_sessions.verify_loft_form(session, staff["engine1"], sid(exam), TICKETS[0], stored[TICKETS[1]])
    assert swapped.value.field == "item_ids"

    foreign = next(i for i in stored[TICKETS[1]] if i not in stored[TICKETS[0]])
    with transaction(engine) as session, pytest.raises(ValidationError) as off_form:
        delivery_rows = [{"person_id": TICKETS[0], "item_id": foreign, "response": "A"}]
        exam_results.responses.submit_responses(session, staff["engine1"], exam.paper_id, "b-off", delivery_rows)
    assert off_form.value.field == "responses[0].item_id"
    with transaction(engine) as session:
        exam_results.responses.submit_responses(session, staff["engine1"], exam.paper_id, "loft-1", rows)
    with transaction(engine) as session:
        results = exam_results.session_results(session, staff["psychometrician"], sid(exam))
    assert results["ticket"].tolist() == TICKETS and (results["max"] == 100).all()
    points = keyed["points"]
    expected = [points.loc[[i["item_id"] for s in offline.form(t)["sections"] for i in s["items"]][:40 + n]].sum()
                for n, t in enumerate(TICKETS)]
    assert results["raw"].tolist() == pytest.approx(expected)

    with transaction(engine) as session:
        assert exam_sessions.ledger_forms(session, staff["auditor"], sid(exam)) == stored
        assert audit.verify(session).ok
    with engine.begin() as connection:  # a form edited behind the bank's back
        form_id = connection.execute(select(CandidateForm.id).where(CandidateForm.ticket == TICKETS[3])).scalar_one()
        connection.execute(CandidateForm.__table__.update().where(CandidateForm.__table__.c.id == form_id)  # type: ignore[attr-defined]
                           .values(item_ids=stored[TICKETS[4]]))
    with transaction(engine) as session, pytest.raises(IntegrityFailure) as edited:
        exam_sessions.ledger_forms(session, staff["auditor"], sid(exam))
    assert edited.value.field == f"forms.{TICKETS[3]}"


def test_the_exposure_limit_is_the_sessions_and_a_short_bank_names_it(calibrated_bank: Engine,
                                                                      staff: dict[str, Actor]) -> None:
    """At the spec's default quarter, 20 papers of 80 items use every eligible item in five papers and
    the 12th paper finds no room: refused naming max_exposure, nothing stored."""
    with transaction(calibrated_bank) as session, pytest.raises(Infeasible) as short:
        exam_sessions.assemble_loft_session(session, staff["manager"], SPEC, TICKETS, level=3, seed=3)
    assert short.value.field == "max_exposure" and "max_exposure (now 0.25)" in str(short.value)
    with transaction(calibrated_bank) as session:
        assert session.exec(select(ExamSession)).all() == []
        for tickets, where in ((["A1", "A1"], "tickets"), (["A1", ""], "tickets[1]"), ("A1", "tickets")):
            with pytest.raises(ValidationError) as bad:
                exam_sessions.plan_loft(session, SPEC, tickets, level=3)
            assert bad.value.field == where
        with pytest.raises(ValidationError) as too_high:
            exam_sessions.plan_loft(session, SPEC, TICKETS, level=3, max_exposure=1.5)
        assert too_high.value.field == "loft.max_exposure"


def run_cat(offline: CatPackage, opened: dict[str, Any], ticket: str, theta: float, rng: np.random.Generator,
            stop_after: int | None = None) -> dict[str, Any] | None:
    """A simulee at ``theta`` answers each item (right with its 3PL probability) until done or ``stop_after``;
    returns the item shown last (None when the CAT finished)."""
    keys = opened["answer_key"]
    shown = offline.start(ticket)
    while shown is not None and (stop_after is None or len(offline.logs()[ticket]) < stop_after):
        a, b, c = offline.pool.shadow.item_parameters(shown["item_id"])
        right = rng.random() < probability([a], [b], [c], [theta])[0, 0]
        key = keys[shown["item_id"]]
        wrong = (key[:-1] if len(key) > 1 else next(o["label"] for o in shown["options"] if o["label"] != key)
                 if shown["options"] else "F" if key == "T" else "T")
        shown = offline.answer(ticket, shown["item_id"], key if right else wrong)
    return shown


def test_a_cat_pool_runs_offline_and_every_choice_replays_from_the_ledger(calibrated_bank: Engine,
                                                                          staff: dict[str, Actor]) -> None:
    engine = calibrated_bank
    tickets = TICKETS[:5]
    with transaction(engine) as session:
        exam = exam_sessions.build_cat_pool(session, staff["manager"], SPEC, tickets, level=3, **CAT)
        carrier = session.get(Paper, exam.paper_id)
    assert carrier is not None and carrier.role == "cat"
    pool_at_rest = json.dumps(exam.pool, ensure_ascii=False)
    pool_ids = [str(i["item_id"]) for i in exam.pool["items"]]
    assert not {"key", "stem", "options"} & set(exam.pool["items"][0])
    assert all(stem not in pool_at_rest for stem in stems_and_keys(engine, pool_ids))

    opened = deliver(engine, staff, exam)
    assert set(opened["answer_key"]) >= set(pool_ids), "the engine scores each answer: the sealed pool has its keys"
    offline = open_session(opened)
    assert isinstance(offline, CatPackage)
    rng = np.random.default_rng(8)
    for ticket, theta in zip(tickets[:-1], (-1.0, 0.0, 0.5, 1.5), strict=True):
        run_cat(offline, opened, ticket, theta, rng)
    pending = run_cat(offline, opened, tickets[-1], 0.2, rng, stop_after=5)  # the engine crashes mid-test ...
    restarted = CatPackage(opened)
    shown = restarted.resume(tickets[-1], offline.logs()[tickets[-1]])  # ... and resumes from the log alone
    assert shown is not None and shown == pending
    logs = offline.logs()

    with transaction(engine) as session:  # a log whose response was changed after scoring
        forged = [dict(e) for e in logs[tickets[0]]]
        forged[2]["response"] = "Z" if forged[2]["score"] else opened["answer_key"][forged[2]["item_id"]]
        with pytest.raises(TamperedLog) as rescored:
            exam_results.submit_cat_log(session, staff["engine1"], sid(exam), tickets[0], forged)
        swapped = [dict(e) for e in logs[tickets[0]]]
        swapped[3]["item_id"] = swapped[4]["item_id"]
        with pytest.raises(TamperedLog) as reordered:
            exam_results.submit_cat_log(session, staff["engine1"], sid(exam), tickets[0], swapped)
        with pytest.raises(ValidationError) as unfinished:
            exam_results.submit_cat_log(session, staff["engine1"], sid(exam), tickets[-1], logs[tickets[-1]])
    assert (rescored.value.field, rescored.value.code) == ("log[2].score", "tampered_log")
    assert reordered.value.field == "log[3].item_id" and unfinished.value.field == "log"

    for ticket in tickets[:-1]:
        with transaction(engine) as session:
            exam_results.submit_cat_log(session, staff["engine1"], sid(exam), ticket, logs[ticket])
    with transaction(engine) as session:  # a retry of the same log is a no-op; another log for the ticket is not
        exam_results.submit_cat_log(session, staff["engine1"], sid(exam), tickets[0], logs[tickets[0]])
        with pytest.raises(Conflict):
            exam_results.submit_cat_log(session, staff["engine1"], sid(exam), tickets[0], logs[tickets[1]])
    with transaction(engine) as session:
        results = exam_results.session_results(session, staff["auditor"], sid(exam)).set_index("ticket")
        for ticket in tickets[:-1]:
            replayed = exam_results.replay_cat(session, staff["auditor"], sid(exam), ticket)
            assert replayed.administered == [e["item_id"] for e in logs[ticket]]
            assert results.at[ticket, "score"] == pytest.approx(offline.result(ticket)["score"])
            assert results.at[ticket, "items"] == CAT["length"]
        stored = session.exec(select(exam_results.Response).where(exam_results.Response.paper_id == exam.paper_id)).all()
    assert len(stored) == 4 * CAT["length"]
    assert results.loc[tickets[0], "theta"] < results.loc[tickets[3], "theta"]


@pytest.mark.parametrize("mode", ["loft", "cat"])
def test_a_leaked_session_compromises_its_items_and_reassembles_without_them(
        mode: str, calibrated_bank: Engine, staff: dict[str, Actor]) -> None:
    engine = calibrated_bank
    with transaction(engine) as session:
        build = exam_sessions.assemble_loft_session if mode == "loft" else exam_sessions.build_cat_pool
        settings = LOFT if mode == "loft" else {**CAT, "share": 0.4}
        exam = build(session, staff["manager"], SPEC, TICKETS[:6], level=3, **settings)
    deliver(engine, staff, exam)
    with transaction(engine) as session:
        carrier = session.get(Paper, exam.paper_id)
        leaked = set(papers.paper_items(session, staff["manager"], exam.paper_id)["item_id"])
        incident = incidents.report_leak(session, staff["manager"], exam.paper_id, {"engines": ["engine1"]},
                                         "photos of the package on a forum")
    assert carrier is not None
    with transaction(engine) as session:
        statuses = set(session.exec(select(Item.status).where(Item.external_id.in_(leaked))).all())  # type: ignore[attr-defined]
        new = session.get(ExamSession, incident.report["results"]["reassembled_session"])
        assert new is not None and new.replaces == exam.id and new.tickets == TICKETS[:6]
        new_items = set(papers.paper_items(session, staff["manager"], new.paper_id)["item_id"])
        assert session.get(Paper, exam.paper_id).status == "invalidated"  # type: ignore[union-attr]
        assert session.get(Paper, new.paper_id).status == "draft"  # type: ignore[union-attr]
        papers.approve_paper(session, staff["manager"], new.paper_id)
        assert exam_sessions.ledger_forms(session, staff["auditor"], sid(new)).keys() == (
            set(TICKETS[:6]) if mode == "loft" else set())
    assert statuses == {"compromised"} and new_items and not new_items & leaked
    if mode == "loft":
        with transaction(engine) as session:
            assert exam_sessions.verify_forms(session, staff["auditor"], sid(new))["ok"].all()
