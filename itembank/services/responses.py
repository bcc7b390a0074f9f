"""Candidates' responses coming back from exam engines: stored, scored by the bank, counted as exposure.

Answer keys never leave the bank: engines send raw responses and the bank scores objective items
with ``itembank.scoring``. A batch id makes a retry idempotent. Exposure counts candidate
administrations: each batch adds, per item, the number of distinct persons who sat it, with one
atomic ``UPDATE ... SET exposure_count = exposure_count + n`` per item, in item-id order so that
concurrent batches cannot deadlock.

A paper may carry a pretest block: accepted items without operational parameters that candidates
answer beside the paper's items. Their responses are stored, scored against the bank's keys and
calibrated (the paper's operational items anchor them to the bank scale), but they never count
toward a candidate's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from itembank import audit, scoring
from itembank.db import insert_rows
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.hashing import content_hash
from itembank.models import (
    CandidateForm,
    ExamSession,
    Handover,
    Item,
    ItemStatus,
    ItemType,
    ItemVersion,
    Paper,
    PaperStatus,
    Response,
    ResponseBatch,
    Role,
    SealedPaper,
)
from itembank.models.base import utcnow
from itembank.scoring import ItemErrorAction, ScoringRules
from itembank.sealing import VariantRecord, unshuffle_responses
from itembank.services.actors import Actor
from itembank.services.delivery import (
    CARRIER_ROLES,
    PRETEST,
    PaperEntry,
    advance_paper,
    get_paper,
    paper_entries,
    pretest_versions,
    variant_content,
)

ANSWERABLE = frozenset({PaperStatus.SEALED, PaperStatus.RELEASED, PaperStatus.ADMINISTERED})
SCORERS = (Role.PSYCHOMETRICIAN, Role.BANK_MANAGER)
EXAMPLES = 20
PRETEST_OPEN = frozenset({PaperStatus.DRAFT, PaperStatus.APPROVED})
PRETEST_READY = frozenset({ItemStatus.ACCEPTED, ItemStatus.ACTIVE})


def _item_errors(paper: Paper) -> dict[str, ItemErrorAction]:
    """Item-error decisions on this paper (kept in its provenance: external id -> action)."""
    return {k: ItemErrorAction(v) for k, v in paper.provenance.get("item_errors", {}).items()}


@dataclass(frozen=True)
class Answerable:
    """An item candidates answer on a paper, with the version and points it is scored at.

    Scored items are the paper's own; pretest items are scored at their version's points but never
    count toward a result.
    """

    item: Item
    version: ItemVersion
    points: float
    pretest: bool = False

    @classmethod
    def on_paper(cls, entry: PaperEntry) -> Answerable:
        return cls(entry.item, entry.version, entry.row.points)


def key_table(entries: Sequence[Answerable], paper_id: int | None = None) -> pd.DataFrame:
    """The bank's scoring keys for a paper's items, in the shape ``scoring.score_responses`` reads."""
    rows = [
        {
            "item_id": e.item.external_id, "type": e.version.type, "points": e.points,
            "key": e.version.key, "options": "".join(sorted(e.version.options or {})),
        }
        for e in entries
    ]
    frame = pd.DataFrame(rows, columns=["item_id", "type", "points", "key", "options"])
    return frame if paper_id is None else frame.assign(paper_id=paper_id)


# ---------------------------------------------------------------- pretest block


def _current_items(session: Session, external_ids: Sequence[str]) -> dict[str, tuple[Item, ItemVersion]]:
    rows = session.exec(
        select(Item, ItemVersion)
        .join(ItemVersion, (col(ItemVersion.item_id) == col(Item.id)) & (col(ItemVersion.version) == col(Item.current_version)))
        .where(col(Item.external_id).in_(list(external_ids)))
    ).all()
    return {item.external_id: (item, version) for item, version in rows}


def _pretest_problem(found: tuple[Item, ItemVersion] | None, on_paper: bool) -> str | None:
    """Why an item cannot join a paper's pretest block, or None if it can."""
    if found is None:
        return "is not in the bank"
    item, version = found
    if on_paper:
        return "is already on the paper"
    if item.status not in PRETEST_READY:
        return f"is {item.status}, not accepted or active"
    if not ItemType(version.type).objective:
        return "is not an objective item (pretest items are scored without graders)"
    return None


def attach_pretest_items(session: Session, actor: Actor, paper_id: int, external_ids: Sequence[str]) -> Paper:
    """Give a paper (before sealing) a block of unscored pretest items, at their current versions.

    Field-testing inside a live administration is how new items get parameters on the bank scale:
    the candidates are motivated, and the paper's operational items anchor the calibration (FIPC).
    Only objective items qualify, so the bank can score them without graders; they must have passed
    the panel (accepted or active) and must not already be on the paper.
    """
    actor.require(Role.BANK_MANAGER, action="attach pretest items")
    audit.lock_head(session)  # before the paper is read: a seal committed meanwhile must refuse the block
    paper = get_paper(session, paper_id)
    if paper.status not in PRETEST_OPEN:
        raise Conflict(f"paper {paper.name} is {paper.status}; a pretest block is attached before sealing", field="status")
    wanted = list(dict.fromkeys(external_ids))
    if not wanted:
        raise ValidationError("the pretest block holds no items", field="external_ids")
    found = _current_items(session, wanted)
    on_paper = {e.item.external_id for e in paper_entries(session, paper_id)}
    problems = [f"{ext} {problem}" for ext in wanted if (problem := _pretest_problem(found.get(ext), ext in on_paper))]
    if problems:
        raise ValidationError(f"{len(problems)} item(s) cannot be pretested on {paper.name}: {'; '.join(problems[:5])}",
                              field="external_ids", details=problems[:EXAMPLES])
    block = [{"item_id": ext, "version": found[ext][1].version} for ext in wanted]
    paper.provenance = paper.provenance | {PRETEST: block}
    session.add(paper)
    session.flush()
    audit.record(session, actor.name, "paper.pretest", "paper", paper_id, {"items": wanted})
    return paper


def pretest_items(session: Session, paper: Paper) -> list[Answerable]:
    """The paper's pretest block at the versions it was attached with."""
    return [Answerable(item, version, version.points, pretest=True) for item, version in pretest_versions(session, paper)]


def answerable_items(session: Session, paper: Paper) -> dict[str, Answerable]:
    """Everything candidates may answer on a paper: its items, then its pretest block, by external id."""
    scored = [Answerable.on_paper(e) for e in paper_entries(session, paper.id)]  # type: ignore[arg-type]
    return {a.item.external_id: a for a in [*scored, *pretest_items(session, paper)]}


# ---------------------------------------------------------------- submission


def _check_rows(responses: Sequence[dict[str, Any]], on_paper: set[str]) -> pd.DataFrame:
    """Validate every row at once, so an engine learns all bad rows from one refusal."""
    problems: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    clean = []
    for n, row in enumerate(responses):
        person, item, answer = row.get("person_id"), row.get("item_id"), row.get("response")
        if set(row) - {"person_id", "item_id", "response"}:
            problems.append({"row": n, "field": "row", "problem": f"unexpected fields {sorted(set(row) - {'person_id', 'item_id', 'response'})}"})
        if not isinstance(person, str) or not person.strip():
            problems.append({"row": n, "field": "person_id", "problem": "person_id must be a non-empty string"})
        if item not in on_paper:
            problems.append({"row": n, "field": "item_id", "problem": f"item {item!r} is not on this paper"})
        if answer is not None and (not isinstance(answer, str) or len(answer) > 200):
            problems.append({"row": n, "field": "response", "problem": "response must be a string of at most 200 characters or null"})
        if (person, item) in seen:
            problems.append({"row": n, "field": "item_id", "problem": f"{person} answers {item} twice in this batch"})
        if isinstance(person, str) and isinstance(item, str):
            seen.add((person, item))
        clean.append({"person_id": person, "item_id": item, "response": answer})
    if not responses:
        problems.append({"row": None, "field": "responses", "problem": "the batch holds no responses"})
    if problems:
        first = problems[0]
        raise ValidationError(
            f"{len(problems)} problem(s) in the response batch, first: row {first['row']} {first['field']}: {first['problem']}",
            field=f"responses[{first['row']}].{first['field']}" if first["row"] is not None else "responses",
            details=problems[:EXAMPLES],
        )
    return pd.DataFrame(clean, columns=["person_id", "item_id", "response"], dtype=object)


def _refuse_off_form(session: Session, paper: Paper, frame: pd.DataFrame) -> None:
    """On an exam session's carrier paper each candidate (ticket) answers only the items of their own form."""
    if paper.role not in CARRIER_ROLES:
        return
    forms = {ticket: set(item_ids) for ticket, item_ids in session.exec(
        select(CandidateForm.ticket, CandidateForm.item_ids).join(ExamSession, col(ExamSession.id) == CandidateForm.session_id)
        .where(ExamSession.paper_id == paper.id)).all()}
    for n, row in enumerate(frame.itertuples(index=False)):
        if row.person_id not in forms:
            raise ValidationError(f"row {n}: {row.person_id!r} has no form in this exam session (a CAT form exists "
                                  "once its log is sent)", field=f"responses[{n}].person_id")
        if row.item_id not in forms[row.person_id]:
            raise ValidationError(f"row {n}: item {row.item_id} is not on the form of {row.person_id}",
                                  field=f"responses[{n}].item_id")


def _engine_sealed(session: Session, engine: Actor, paper: Paper) -> SealedPaper:
    """The package this engine delivered: the last it pulled, else the active one it is allowed."""
    pulled = session.exec(
        select(SealedPaper)
        .join(Handover, col(Handover.sealed_id) == SealedPaper.id)
        .where(SealedPaper.paper_id == paper.id, Handover.client == engine.name, Handover.action == "pull")
        .order_by(col(Handover.id).desc())
    ).first()
    if pulled is not None:
        return pulled
    allowed = session.exec(
        select(SealedPaper).where(SealedPaper.paper_id == paper.id, col(SealedPaper.active).is_(True))
    ).first()
    if allowed is None or engine.name not in allowed.engines:
        raise Forbidden(f"engine {engine.name!r} was never allowed paper {paper.name}", field="engine_id")
    return allowed


def _existing_batch(session: Session, batch_id: str, digest: str, paper_id: int, engine: Actor) -> ResponseBatch | None:
    batch = session.exec(select(ResponseBatch).where(ResponseBatch.batch_id == batch_id)).first()
    if batch is None:
        return None
    if (batch.content_hash, batch.paper_id, batch.client) != (digest, paper_id, engine.name):
        raise Conflict(
            f"batch {batch_id!r} was already submitted with different content (paper {batch.paper_id}, "
            f"engine {batch.client}); a retry must resend exactly the same batch",
            field="batch_id",
        )
    return batch


def submit_responses(
    session: Session, engine_actor: Actor, paper_id: int, batch_id: str, responses: list[dict[str, Any]]
) -> ResponseBatch:
    """Store and score a batch of responses; resending the same batch id and content changes nothing."""
    engine_actor.require(Role.EXAM_ENGINE, action="submit responses")
    batch_id = batch_id.strip() if isinstance(batch_id, str) else ""
    if not batch_id or len(batch_id) > 120:
        raise ValidationError("batch_id must be 1 to 120 characters", field="batch_id")
    paper = get_paper(session, paper_id)
    entries = answerable_items(session, paper)
    frame = _check_rows(responses, set(entries))
    _refuse_off_form(session, paper, frame)
    digest = content_hash(sorted(frame.itertuples(index=False, name=None), key=lambda r: (r[0], r[1])))
    existing = _existing_batch(session, batch_id, digest, paper_id, engine_actor)
    if existing is not None:
        return existing
    if paper.status not in ANSWERABLE:
        raise Conflict(f"paper {paper.name} is {paper.status} and takes no responses", field="status")
    sealed = _engine_sealed(session, engine_actor, paper)
    batch = ResponseBatch(batch_id=batch_id, client=engine_actor.name, paper_id=paper_id,
                          n_responses=len(frame), content_hash=digest)
    audit.lock_head(session)  # before the item and paper rows: the bank's one lock order (docs/architecture.md)
    claimed = _claim_batch_id(session, batch)
    if claimed is None:
        concurrent = _existing_batch(session, batch_id, digest, paper_id, engine_actor)
        assert concurrent is not None, "a batch id was claimed but is not visible"
        return concurrent
    batch = claimed
    _refuse_resubmitted_sittings(session, paper_id, frame, entries)
    if sealed.variant_seed is not None:
        _, record = variant_content(session, paper, sealed.variant_seed)
        frame = _unshuffle(frame, record)  # type: ignore[arg-type]
    scored = _score_objective(frame, entries)
    insert_rows(session, Response, [
        {"batch_id": batch.id, "paper_id": paper_id, "person_id": row.person_id,
         "item_id": entries[row.item_id].item.id, "version": entries[row.item_id].version.version,
         "response": row.response, "score": row.score, "created_at": utcnow()}
        for row in scored.itertuples(index=False)
    ])
    _count_exposure(session, frame, entries)
    advance_paper(session, paper, PaperStatus.ADMINISTERED,
                  from_statuses=frozenset({PaperStatus.SEALED, PaperStatus.RELEASED}))
    audit.record(session, engine_actor.name, "responses.submit", "paper", paper_id, {
        "batch_id": batch_id, "content_hash": digest, "n_responses": len(frame),
        "persons": int(frame["person_id"].nunique()),
    })
    return batch


def _unshuffle(frame: pd.DataFrame, record: VariantRecord) -> pd.DataFrame:
    """Responses in the labels of the engine's variant, mapped back to the bank's option labels."""
    answered = frame["response"].notna()
    restored = frame.copy()
    restored.loc[answered] = unshuffle_responses(frame.loc[answered], record)
    return restored


def _claim_batch_id(session: Session, batch: ResponseBatch) -> ResponseBatch | None:
    """Insert the batch row unless its id is taken; a concurrent claim of the same id waits here.

    ``ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite) instead of a savepoint: pysqlite's savepoints
    would commit the outer transaction early.
    """
    dialect = session.get_bind().dialect.name
    statement = postgresql.insert(ResponseBatch) if dialect == "postgresql" else sqlite.insert(ResponseBatch)
    claimed = session.execute(
        statement.values(**batch.model_dump(exclude={"id"}))
        .on_conflict_do_nothing(index_elements=["batch_id"])
        .returning(col(ResponseBatch.id))
    ).first()
    return None if claimed is None else session.get(ResponseBatch, claimed[0])


def _refuse_resubmitted_sittings(session: Session, paper_id: int, frame: pd.DataFrame, entries: dict[str, Answerable]) -> None:
    persons = sorted(frame["person_id"].unique())
    stored = session.exec(
        select(Response.person_id, Response.item_id)
        .where(Response.paper_id == paper_id, col(Response.person_id).in_(persons))
    ).all()
    if not stored:
        return
    by_internal = {e.item.id: ext for ext, e in entries.items()}
    clash = set(frame[["person_id", "item_id"]].itertuples(index=False, name=None)) & {
        (p, by_internal[i]) for p, i in stored
    }
    if clash:
        listing = sorted(clash)[:EXAMPLES]
        raise Conflict(
            f"{len(clash)} response(s) were already stored by another batch, e.g. {listing[0][0]} on {listing[0][1]}",
            field="responses", details=[{"person_id": p, "item_id": i} for p, i in listing],
        )


def _score_objective(frame: pd.DataFrame, entries: dict[str, Answerable]) -> pd.DataFrame:
    """Scores of objective items from the bank's keys; subjective items wait for graders (None)."""
    objective_ids = {ext for ext, e in entries.items() if ItemType(e.version.type).objective}
    objective = frame["item_id"].isin(objective_ids)
    scored = frame.assign(score=None)
    if objective.any():
        keys = key_table([entries[i] for i in sorted(objective_ids)])
        result = scoring.score_responses(frame.loc[objective].assign(paper_id=0), keys)
        marks = result.responses.set_index(["person_id", "item_id"])["score"]
        index = pd.MultiIndex.from_frame(frame.loc[objective, ["person_id", "item_id"]])
        scored.loc[objective, "score"] = marks.reindex(index).to_numpy()
    scored["score"] = scored["score"].astype(object).where(scored["score"].notna(), None)
    return scored


def _count_exposure(session: Session, frame: pd.DataFrame, entries: dict[str, Answerable]) -> None:
    persons = frame.groupby("item_id")["person_id"].nunique()
    targets = {ext: entries[ext].item.id or 0 for ext in persons.index}
    rows = sorted(({"target": targets[ext], "n": int(n)} for ext, n in persons.items()), key=lambda r: r["target"])
    items = Item.__table__  # type: ignore[attr-defined]
    session.execute(
        update(items)
        .where(items.c.id == bindparam("target"))
        .values(exposure_count=items.c.exposure_count + bindparam("n"), last_used=bindparam("now")),
        [row | {"now": utcnow()} for row in rows],
    )


# ---------------------------------------------------------------- grading, results, rescoring


def grade_subjective(session: Session, grader_actor: Actor, paper_id: int, scores: list[dict[str, Any]]) -> int:
    """Graders' marks on subjective items, each within [0, the item's points on this paper]."""
    grader_actor.require(*SCORERS, action="grade subjective items")
    get_paper(session, paper_id)
    entries = {e.item.external_id: e for e in paper_entries(session, paper_id)}
    stored: dict[tuple[Any, int | None], Response] = {
        (r.person_id, r.item_id): r
        for r in session.exec(select(Response).where(Response.paper_id == paper_id)).all()
    }
    problems = []
    for n, mark in enumerate(scores):
        entry = entries.get(str(mark.get("item_id")))
        value = mark.get("score")
        if entry is None or ItemType(entry.version.type).objective:
            problems.append({"row": n, "field": "item_id", "problem": f"{mark.get('item_id')!r} is not a subjective item of this paper"})
        elif (mark.get("person_id"), entry.item.id) not in stored:
            problems.append({"row": n, "field": "person_id", "problem": f"{mark.get('person_id')!r} has no response to {entry.item.external_id}"})
        elif not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= entry.row.points:
            problems.append({"row": n, "field": "score", "problem": f"score must be between 0 and {entry.row.points}"})
    if problems:
        first = problems[0]
        raise ValidationError(
            f"{len(problems)} bad grade(s), first: row {first['row']} {first['field']}: {first['problem']}",
            field=f"scores[{first['row']}].{first['field']}", details=problems[:EXAMPLES],
        )
    for mark in scores:
        row = stored[(mark["person_id"], entries[mark["item_id"]].item.id)]
        row.score = float(mark["score"])
        session.add(row)
    audit.record(session, grader_actor.name, "responses.grade", "paper", paper_id, {
        "n": len(scores), "hash": content_hash(scores),
    })
    return len(scores)


def _stored_frame(session: Session, paper_ids: Sequence[int] | None) -> pd.DataFrame:
    columns = [col(Response.person_id), col(Item.external_id), col(Response.response), col(Response.score),
               col(Response.paper_id)]
    query = sa_select(*columns).join(Item, col(Item.id) == Response.item_id)
    if paper_ids is not None:
        query = query.where(col(Response.paper_id).in_(list(paper_ids)))
    return pd.DataFrame(session.execute(query).all(), columns=["person_id", "item_id", "response", "score", "paper_id"])


def paper_results(session: Session, actor: Actor, paper_id: int, rules: ScoringRules | None = None) -> pd.DataFrame:
    """Each candidate's raw score, maximum, score out of 100 and pass decision on one paper."""
    actor.require(*SCORERS, Role.AUDITOR, action="read paper results")
    paper = get_paper(session, paper_id)
    keys = key_table([Answerable.on_paper(e) for e in paper_entries(session, paper_id)], paper_id)
    stored = _stored_frame(session, [paper_id])
    stored = stored.loc[stored["item_id"].isin(keys["item_id"])]  # pretest responses never count
    subjective = ~stored["item_id"].isin(keys.loc[keys["type"].map(lambda t: ItemType(t).objective), "item_id"])
    grades = stored.loc[subjective & stored["score"].notna(), ["person_id", "paper_id", "item_id", "score"]]
    result = scoring.score_responses(
        stored[["person_id", "paper_id", "item_id", "response"]], keys,
        grader_scores=grades, rules=rules, item_errors=_item_errors(paper),
    )
    return result.results[["person_id", "raw", "max", "score_100", "passed"]].reset_index(drop=True)


def response_log(session: Session, actor: Actor, paper_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Scored responses in calibration's long format; objective items as shares of 0..1, subjective in points.

    Pretest items are in the log (that is what they were answered for), grouped with their paper.
    Items under an item-error decision are left out: their scores say nothing about the candidates.
    """
    actor.require(*SCORERS, action="read response logs")
    stored = _stored_frame(session, paper_ids)
    papers = session.exec(select(Paper).where(col(Paper.id).in_(stored["paper_id"].unique().tolist()))).all()
    layout = pd.DataFrame(
        [
            {"paper_id": p.id, "item_id": ext, "group": p.name, "points": e.points,
             "objective": ItemType(e.version.type).objective, "item_error": ext in _item_errors(p)}
            for p in papers
            for ext, e in answerable_items(session, p).items()
        ],
        columns=["paper_id", "item_id", "group", "points", "objective", "item_error"],
    )
    log = stored.loc[stored["score"].notna()].merge(layout, on=["paper_id", "item_id"])
    log = log.loc[~log["item_error"].astype(bool)]
    log["score"] = log["score"].astype(float).where(~log["objective"].astype(bool), log["score"].astype(float) / log["points"])
    return log[["person_id", "item_id", "score", "paper_id", "group"]].reset_index(drop=True)


def rescore(session: Session, actor: Actor, paper_id: int, item_external_id: str, action: ItemErrorAction | str) -> pd.DataFrame:
    """Apply an item-error decision (credit everyone or drop the item) to stored scores; returns the new results."""
    actor.require(*SCORERS, action="rescore papers")
    paper = get_paper(session, paper_id)
    try:
        decision = ItemErrorAction(action)
    except ValueError as exc:
        raise ValidationError(f"unknown item-error action {action!r}; use drop or credit_all", field="action") from exc
    entry = next((e for e in paper_entries(session, paper_id) if e.item.external_id == item_external_id), None)
    if entry is None:
        raise ValidationError(f"item {item_external_id} is not on paper {paper.name}", field="item_external_id")
    score = entry.row.points if decision is ItemErrorAction.CREDIT_ALL else 0.0
    changed = session.execute(
        update(Response).where(col(Response.paper_id) == paper_id, col(Response.item_id) == entry.item.id)
        .values(score=score).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    paper.provenance = paper.provenance | {
        "item_errors": paper.provenance.get("item_errors", {}) | {item_external_id: decision.value}
    }
    session.add(paper)
    session.flush()
    audit.record(session, actor.name, "paper.rescore", "paper", paper_id, {
        "item": item_external_id, "action": decision.value, "responses": int(changed),
    })
    return paper_results(session, actor, paper_id)
