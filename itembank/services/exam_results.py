"""What comes back from an exam session: CAT logs (checked by replay), and every ticket's result.

A CAT log is the engine's whole record of a candidate: item, answer, score, θ̂ and SE after each
answer. The bank resumes it on the sealed pool (``CatSession.resume``), so a log this pool would not
have written — another item at some position, a θ̂ the answers do not give — is refused as
``tampered_log``; it scores every answer again with its own keys (``scoring.full_credit``), so a score
the engine changed is refused the same way. The accepted log becomes the ticket's form (the items
given), its responses are stored and scored like any paper's (``responses.submit_responses``), and the
result is the reference paper's 百分制 score at θ̂. LOFT results are scored per form: each candidate's
maximum is their own paper's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from itembank import audit, scoring
from itembank.adaptive import CatPool, CatSession, TamperedLog
from itembank.errors import Conflict, IntegrityFailure, ValidationError
from itembank.hashing import content_hash, form_hash
from itembank.models import CandidateForm, ExamSession, Item, ItemType, Response, Role
from itembank.services import papers, responses
from itembank.services.actors import Actor
from itembank.services.exam_sessions import (
    CAT,
    LOFT,
    READERS,
    forms,
    get_exam_session,
    ledger_forms,
    ledger_hash,
    ticket_form,
)

RESULT_READERS = (*responses.SCORERS, Role.AUDITOR)
POOLS_KEPT = 4
_pools: OrderedDict[str, CatPool] = OrderedDict()


def session_pool(exam: ExamSession) -> CatPool:
    """The sealed pool of a CAT session, rebuilt once per process (its shadow-test model is reused;
    each session gets its own solver from it)."""
    if exam.mode != CAT:
        raise ValidationError(f"exam session {exam.id} is {exam.mode}, not CAT", field="exam_session_id")
    digest = content_hash(exam.pool)
    if digest not in _pools:
        _pools[digest] = CatPool.from_dict(exam.pool)
        while len(_pools) > POOLS_KEPT:
            _pools.popitem(last=False)
    _pools.move_to_end(digest)
    return _pools[digest]


def log_payload(exam: ExamSession, ticket: str, log: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ledger payload of an accepted CAT log."""
    return {"session": exam.id, "ticket": ticket, "log": [dict(e) for e in log], "inputs_hash": exam.inputs_hash}


def _rescore(session: Session, exam: ExamSession, log: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a log whose logged scores the bank's own keys do not give."""
    carrier = papers.get_paper(session, exam.paper_id)
    entries = responses.answerable_items(session, carrier)
    for k, entry in enumerate(log):
        if not isinstance(entry.get("response"), str | None):
            raise ValidationError(f"log entry {k}: the response must be a string or null", field=f"log[{k}].response")
    marks = scoring.full_credit([{"type": entries[str(e["item_id"])].version.type,
                                  "key": entries[str(e["item_id"])].version.key, "response": e.get("response")}
                                 for e in log])
    for k, (entry, mark) in enumerate(zip(log, marks, strict=True)):
        if int(entry["score"]) != mark:
            raise TamperedLog(f"log entry {k} scores {entry['item_id']} {entry['score']}, but the bank's key gives "
                              f"{mark} for response {entry.get('response')!r}", field=f"log[{k}].score")


def submit_cat_log(session: Session, engine: Actor, exam_id: int, ticket: str,
                   log: Sequence[Mapping[str, Any]]) -> CandidateForm:
    """Accept a finished CAT's log from the engine that ran it; the same log again changes nothing."""
    engine.require(Role.EXAM_ENGINE, action="submit CAT logs")
    exam = get_exam_session(session, exam_id)
    if exam.mode != CAT:
        raise ValidationError(f"exam session {exam_id} is {exam.mode}: its responses go to "
                              f"/engine/papers/{exam.paper_id}/responses", field="exam_session_id")
    if ticket not in exam.tickets:
        raise ValidationError(f"ticket {ticket} is not registered for exam session {exam_id}", field="ticket")
    if not log:
        raise ValidationError("the CAT log is empty", field="log")
    replayed = CatSession.resume(session_pool(exam), ticket, log)
    if not replayed.finished:
        raise ValidationError(f"the CAT of {ticket} is not finished after {len(log)} items", field="log")
    _rescore(session, exam, log)
    payload = log_payload(exam, ticket, log)
    audit.lock_head(session)  # before the form row: a concurrent submission of the same ticket waits here
    existing = ticket_form(session, exam, ticket)
    if existing is not None:
        if log_payload(exam, ticket, existing.cat_log) == payload:
            return existing
        raise Conflict(f"ticket {ticket} already has a different CAT log in exam session {exam_id}", field="ticket")
    given = replayed.administered
    result = replayed.result()
    form = CandidateForm(session_id=exam.id, ticket=ticket, item_ids=given, form_hash=form_hash(ticket, given),  # type: ignore[arg-type]
                         cat_log=payload["log"], result=result)
    session.add(form)
    session.flush()
    audit.record(session, engine.name, "exam_session.cat_log", "exam_session", f"{exam.id}/{ticket}", payload)
    rows = [{"person_id": ticket, "item_id": str(e["item_id"]), "response": e.get("response")} for e in log]
    responses.submit_responses(session, engine, exam.paper_id, f"cat-{exam.id}-{ticket}", rows)
    return form


def replay_cat(session: Session, actor: Actor, exam_id: int, ticket: str) -> CatSession:
    """Rebuild a candidate's CAT from the sealed pool and the stored log, each checked against the
    ledger: every item choice, θ̂ and score comes out again, or ``IntegrityFailure`` says what differs."""
    actor.require(*READERS, action="replay CAT sessions")
    exam = get_exam_session(session, exam_id)
    form = ticket_form(session, exam, ticket)
    if form is None or not form.cat_log:
        raise ValidationError(f"ticket {ticket} has no CAT log in exam session {exam_id}", field="ticket")
    ledger_forms(session, actor, exam_id)  # the session's inputs, the pool's hash among them
    recorded = ledger_hash(session, f"{exam.id}/{ticket}", "exam_session.cat_log")
    if content_hash(log_payload(exam, ticket, form.cat_log)) != recorded:
        raise IntegrityFailure(f"the CAT log of {ticket} differs from the ledger's record", field=f"forms.{ticket}")
    replayed = CatSession.resume(session_pool(exam), ticket, form.cat_log)
    if replayed.administered != list(form.item_ids):
        raise IntegrityFailure(f"the stored form of {ticket} is not what its log gives", field=f"forms.{ticket}")
    return replayed


def session_results(session: Session, actor: Actor, exam_id: int) -> pd.DataFrame:
    """One row per ticket with a form: LOFT raw, maximum, score out of 100 and pass on the candidate's own
    paper (graders' marks on subjective items as ``responses.grade_subjective`` stored them); CAT items given, θ̂, SE, score on the reference paper and pass."""
    actor.require(*RESULT_READERS, action="read exam-session results")
    exam = get_exam_session(session, exam_id)
    if exam.mode == CAT:
        rows = [{"ticket": f.ticket, "items": len(f.item_ids), **{k: f.result[k] for k in
                 ("theta", "se", "score", "passed")}} for f in forms(session, exam)]
        return pd.DataFrame(rows, columns=["ticket", "items", "theta", "se", "score", "passed"])
    assert exam.mode == LOFT
    carrier = papers.get_paper(session, exam.paper_id)
    entries = responses.answerable_items(session, carrier)
    stored = forms(session, exam)
    keys = pd.concat([responses.key_table([entries[i] for i in f.item_ids], paper_id=f.ticket)  # type: ignore[arg-type]
                      for f in stored], ignore_index=True)
    answered = pd.DataFrame(session.execute(
        sa_select(col(Response.person_id), col(Item.external_id), col(Response.response), col(Response.score))
        .join(Item, col(Item.id) == Response.item_id).where(col(Response.paper_id) == carrier.id)).all(),
        columns=["person_id", "item_id", "response", "score"])
    if answered.empty:
        return pd.DataFrame(columns=["ticket", "raw", "max", "score_100", "passed"])
    answered = answered.assign(paper_id=answered["person_id"])
    subjective = ~answered["item_id"].map(lambda i: ItemType(entries[i].version.type).objective)
    grades = answered.loc[subjective & answered["score"].notna(), ["person_id", "paper_id", "item_id", "score"]]
    scored = scoring.score_responses(answered[["person_id", "paper_id", "item_id", "response"]], keys,
                                     grader_scores=grades).results
    return (scored.rename(columns={"person_id": "ticket"})[["ticket", "raw", "max", "score_100", "passed"]]
            .sort_values("ticket").reset_index(drop=True))
