"""Exam sessions in bank mode: LOFT papers per candidate, or a CAT pool, delivered like a fixed paper.

A session is solved first (:func:`plan_loft`, :func:`plan_cat`: the bank read, the core run, nothing
written) and then stored in one go (:func:`store_plan`): an assembly run, a *carrier* paper holding
every item the session can deliver, the session row (spec, settings, tickets, reference paper, bank
snapshot; for CAT the pool document) and, for LOFT, one form per ticket (准考证号). The carrier goes
through the fixed-paper cycle unchanged — approve, seal (its package adds the forms or the pool,
``delivery.exam_session_content``), pull, key release, handovers, responses, leak — so an engine holds
the whole session and can run it offline through a network failure.

Every choice is reconstructible from the audit ledger: the session's inputs and each form are events
whose payload hashes the stored rows must still give (:func:`ledger_forms`), and a CAT's choices are
replayed from the sealed pool and the logged answers (:mod:`itembank.services.exam_results`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

import assembly
from assembly.equivalence import reference_from
from assembly.errors import SpecError
from assembly.loft import candidate_names
from itembank import audit
from itembank.adaptive import CatPool
from itembank.core_errors import core_errors
from itembank.errors import Infeasible, IntegrityFailure, NotFound, ValidationError
from itembank.hashing import content_hash, form_hash
from itembank.models import (
    AssemblyRun,
    AuditEvent,
    Blueprint,
    CandidateForm,
    ExamSession,
    Paper,
    Role,
)
from itembank.scoring import OBJECTIVE_TYPES
from itembank.services import papers
from itembank.services.actors import Actor
from itembank.services.blueprints import find_blueprint
from itembank.services.supply import active_item_table, snapshot_hash

LOFT, CAT = "loft", "cat"
MANAGERS = papers.MANAGERS
READERS = papers.PAPER_READERS
TICKET_LENGTH = 64


@dataclass
class SessionPlan:
    """A solved session before anything is stored: what the core saw, was asked for and produced."""

    mode: str
    name: str
    document: dict[str, Any]
    settings: dict[str, Any]
    tickets: list[str]
    blueprint: Blueprint
    table: pd.DataFrame
    reference_ids: list[str]
    forms: dict[str, list[str]] = field(default_factory=dict)
    pool: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    replaces: int | None = None

    @property
    def item_ids(self) -> list[str]:
        """Every item the session can deliver, in bank order: the carrier paper's items."""
        wanted = ({i for items in self.forms.values() for i in items} if self.mode == LOFT
                  else {str(i["item_id"]) for i in self.pool["items"]})
        return [i for i in self.table["item_id"] if i in wanted]


def _tickets(tickets: Sequence[str]) -> list[str]:
    """Admission tickets as given: non-empty, unique, at most 64 characters."""
    if isinstance(tickets, str) or not isinstance(tickets, Sequence):
        raise ValidationError("tickets must be a list of admission numbers (准考证号)", field="tickets")
    for n, ticket in enumerate(tickets):
        if not isinstance(ticket, str) or not ticket.strip() or len(ticket) > TICKET_LENGTH:
            raise ValidationError(f"tickets[{n}] must be 1 to {TICKET_LENGTH} characters", field=f"tickets[{n}]")
    try:
        return candidate_names(list(tickets))
    except SpecError as exc:
        raise ValidationError(str(exc).replace("candidate", "ticket"), field="tickets") from exc


def _document(spec: dict[str, Any] | str | Path, block: str, overrides: dict[str, Any],
              exclude: Sequence[str]) -> dict[str, Any]:
    """The spec with the session's own settings in its ``loft`` or ``cat`` block, validated again."""
    document = papers.load_spec_document(spec)
    document[block] = {**(document.get(block) or {}), **{k: v for k, v in overrides.items() if v is not None}}
    document["exclude"] = sorted(set(document.get("exclude", [])) | set(exclude))
    return papers.load_spec_document(document)


def _bank(session: Session, occupation_code: str, level: int, exam_kind: str,
          blueprint_version: str | None) -> tuple[Blueprint, pd.DataFrame]:
    blueprint = find_blueprint(session, occupation_code, level, exam_kind, blueprint_version)
    table = active_item_table(session, blueprint)
    if table.empty:
        raise Infeasible(f"the bank has no active items for {occupation_code} level {level} {exam_kind}", field="bank")
    return blueprint, table


def plan_loft(session: Session, spec: dict[str, Any] | str | Path, tickets: Sequence[str], *,
              max_exposure: float | None = None, max_mean_overlap: float | None = None, seed: int | None = None,
              occupation_code: str = "4-07-03-04", level: int = 3, exam_kind: str = "theory",
              blueprint_version: str | None = None, exclude: Sequence[str] = (), name: str | None = None,
              replaces: int | None = None) -> SessionPlan:
    """One verified, score-equivalent paper per ticket from the active bank (nothing stored yet).

    ``max_exposure`` (the share of papers an item may appear on) is the session's to choose: how
    many candidates sit decides how far the bank stretches, and a refusal for a short bank names it.
    """
    names = _tickets(tickets)
    document = _document(spec, "loft", {"max_exposure": max_exposure, "max_mean_overlap": max_mean_overlap}, exclude)
    blueprint, table = _bank(session, occupation_code, level, exam_kind, blueprint_version)
    with core_errors():
        result = assembly.assemble_loft(table, document, names, seed=seed)
    if not result.ok:
        short = result.status == "not_solved" or "exposure" in result.message
        limit = document["loft"]["max_exposure"]
        advice = f"; raise max_exposure (now {limit:g}) or seat fewer candidates" if short else ""
        raise Infeasible(f"the LOFT session cannot be assembled: {result.message}: "
                         f"{'; '.join(result.diagnosis)}{advice}", field="max_exposure" if short else "spec",
                         details={"diagnosis": result.diagnosis, "conflicts": result.conflicts})
    assert result.reference is not None
    figures = result.to_dict()
    return SessionPlan(
        LOFT, name or document.get("name", "loft"), document,
        {"seed": result.seed, "max_exposure": document["loft"]["max_exposure"],
         "max_mean_overlap": document["loft"]["max_mean_overlap"]},
        names, blueprint, table, list(result.reference.item_ids),
        forms={f.name: list(f.item_ids) for f in result.forms},
        figures={k: figures[k] for k in ("max_exposure", "mean_overlap", "max_tcc_deviation", "checks")},
        replaces=replaces)


def _cat_items(table: pd.DataFrame, share: float | None, seed: int) -> pd.DataFrame:
    """Calibrated objective items (a CAT scores 0/1), or a seeded ``share`` of them, item sets kept whole."""
    usable = table.loc[table["type"].isin(OBJECTIVE_TYPES) & table["a"].notna() & table["b"].notna()]
    if share is None:
        return usable.reset_index(drop=True)
    if not 0 < share <= 1:
        raise ValidationError("share must be in (0, 1]", field="share")
    groups = usable["set_id"].fillna(usable["item_id"]).astype(str)
    names = np.array(sorted(groups.unique()))
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(names, size=max(1, round(share * len(names))), replace=False))
    return usable.loc[groups.isin(chosen).to_numpy()].reset_index(drop=True)


def plan_cat(session: Session, spec: dict[str, Any] | str | Path, tickets: Sequence[str], *,
             length: int | None = None, max_exposure: float | None = None, share: float | None = None,
             seed: int = 0, occupation_code: str = "4-07-03-04", level: int = 3, exam_kind: str = "theory",
             blueprint_version: str | None = None, exclude: Sequence[str] = (), name: str | None = None,
             replaces: int | None = None) -> SessionPlan:
    """A CAT pool from the calibrated active items (or a ``share`` of them), its shadow-test model
    built once here so a pool the spec cannot fill is refused before anything is sealed."""
    names = _tickets(tickets)
    document = _document(spec, "cat", {"length": length, "max_exposure": max_exposure}, exclude)
    blueprint, table = _bank(session, occupation_code, level, exam_kind, blueprint_version)
    items = _cat_items(table.loc[~table["item_id"].isin(document["exclude"])], share, seed)
    if items.empty:
        raise Infeasible("the bank has no calibrated objective items for a CAT pool", field="bank")
    with core_errors():
        pool = CatPool.build(items, document, seed=seed)
    return SessionPlan(CAT, name or document.get("name", "cat"), document,
                       {"seed": seed, "share": share, "length": pool.length,
                        "max_exposure": document["cat"]["max_exposure"]},
                       names, blueprint, table, list(pool.reference.item_ids), pool=pool.to_dict(),
                       figures={"pool_items": len(pool.item_ids), "length": pool.length}, replaces=replaces)


def session_inputs(exam: ExamSession, blueprint_version: str) -> dict[str, Any]:
    """What the session was solved from, as its row holds it: the ledger's record of its inputs (hashed)."""
    return {"mode": exam.mode, "spec": exam.spec, "settings": exam.settings, "tickets": exam.tickets,
            "reference_ids": exam.reference_ids, "blueprint": blueprint_version, "snapshot_hash": exam.snapshot_hash,
            "pool_hash": content_hash(exam.pool) if exam.pool else None, "replaces": exam.replaces}


def form_payload(exam: ExamSession, ticket: str, item_ids: list[str]) -> dict[str, Any]:
    """The ledger payload of one LOFT form: the ticket, its items and the inputs they came from."""
    return {"session": exam.id, "ticket": ticket, "item_ids": list(item_ids),
            "form_hash": form_hash(ticket, item_ids), "inputs_hash": exam.inputs_hash}


def store_plan(session: Session, actor: Actor, plan: SessionPlan) -> ExamSession:
    """Store a solved session: assembly run, draft carrier paper, session row and its forms, all audited."""
    actor.require(*MANAGERS, action="assemble exam sessions")
    snapshot = snapshot_hash(plan.table)
    run = AssemblyRun(spec_name=plan.name, spec=plan.document, blueprint_id=plan.blueprint.id,
                      bank_snapshot_hash=snapshot, status="feasible", result={"mode": plan.mode, **plan.figures},
                      created_by=actor.name)
    session.add(run)
    session.flush()
    items = plan.item_ids
    carrier = papers.store_paper(session, actor, run, plan.blueprint, assembly.Form(plan.mode, plan.mode, items),
                                 papers.current_versions(session, items), plan.table, plan.name)
    carrier.total_points = float(plan.document["total_points"])
    carrier.provenance = carrier.provenance | {"exam_session": plan.mode}
    session.add(carrier)
    exam = ExamSession(name=plan.name, mode=plan.mode, paper_id=carrier.id, spec=plan.document,  # type: ignore[arg-type]
                       settings=plan.settings, tickets=plan.tickets, reference_ids=plan.reference_ids,
                       snapshot_hash=snapshot, inputs_hash="", pool=plan.pool, replaces=plan.replaces,
                       created_by=actor.name)
    inputs = session_inputs(exam, plan.blueprint.version)
    exam.inputs_hash = content_hash(inputs)
    session.add(exam)
    session.flush()
    session.add_all(CandidateForm(session_id=exam.id, ticket=ticket, item_ids=plan.forms[ticket],  # type: ignore[arg-type]
                                  form_hash=form_hash(ticket, plan.forms[ticket]))
                    for ticket in plan.tickets if plan.mode == LOFT)
    audit.record_many(session, [
        audit.Entry(actor.name, f"exam_session.{plan.mode}", "exam_session", str(exam.id), inputs),
        *(audit.Entry(actor.name, "exam_session.form", "exam_session", f"{exam.id}/{ticket}",
                      form_payload(exam, ticket, items)) for ticket, items in plan.forms.items()),
    ])
    session.flush()
    return exam


def assemble_loft_session(session: Session, actor: Actor, spec: dict[str, Any] | str | Path,
                          tickets: Sequence[str], **options: Any) -> ExamSession:
    """A LOFT session: one paper per ticket on a draft carrier paper (options as :func:`plan_loft`)."""
    actor.require(*MANAGERS, action="assemble exam sessions")
    return store_plan(session, actor, plan_loft(session, spec, tickets, **options))


def build_cat_pool(session: Session, actor: Actor, spec: dict[str, Any] | str | Path,
                   tickets: Sequence[str], **options: Any) -> ExamSession:
    """A CAT session: the pool on a draft carrier paper (options as :func:`plan_cat`)."""
    actor.require(*MANAGERS, action="assemble exam sessions")
    return store_plan(session, actor, plan_cat(session, spec, tickets, **options))


def get_exam_session(session: Session, exam_id: int) -> ExamSession:
    exam = session.get(ExamSession, exam_id)
    if exam is None:
        raise NotFound(f"no exam session {exam_id}", field="exam_session_id")
    return exam


def session_of_paper(session: Session, paper: Paper) -> ExamSession:
    """The exam session a carrier paper carries."""
    exam = session.exec(select(ExamSession).where(ExamSession.paper_id == paper.id)).first()
    if exam is None:
        raise NotFound(f"paper {paper.name} carries no exam session", field="paper")
    return exam


def forms(session: Session, exam: ExamSession) -> list[CandidateForm]:
    return list(session.exec(select(CandidateForm).where(CandidateForm.session_id == exam.id)
                             .order_by(col(CandidateForm.ticket))).all())


def ticket_form(session: Session, exam: ExamSession, ticket: str) -> CandidateForm | None:
    """One ticket's stored form in a session, if it has one."""
    return session.exec(select(CandidateForm).where(CandidateForm.session_id == exam.id,
                                                    CandidateForm.ticket == ticket)).first()


def describe(session: Session, actor: Actor, exam_id: int) -> dict[str, Any]:
    """The session as bank staff see it: mode, carrier paper and status, settings, tickets, form count
    (never item content or keys)."""
    actor.require(*READERS, action="see exam sessions")
    exam = get_exam_session(session, exam_id)
    carrier = papers.get_paper(session, exam.paper_id)
    return {"id": exam.id, "name": exam.name, "mode": exam.mode, "paper_id": exam.paper_id,
            "status": carrier.status, "tickets": list(exam.tickets), "settings": dict(exam.settings),
            "reference_ids": list(exam.reference_ids), "snapshot_hash": exam.snapshot_hash,
            "inputs_hash": exam.inputs_hash, "forms": len(forms(session, exam)),
            "pool_items": len(exam.pool.get("items", [])), "replaces": exam.replaces,
            "created_by": exam.created_by, "created_at": exam.created_at}


def candidate_form(session: Session, actor: Actor, exam_id: int, ticket: str) -> CandidateForm:
    """One ticket's form (LOFT: assembled; CAT: the items given, once its log is in)."""
    actor.require(*READERS, action="see exam sessions")
    exam = get_exam_session(session, exam_id)
    if ticket not in exam.tickets:
        raise NotFound(f"ticket {ticket} is not registered for exam session {exam_id}", field="ticket")
    form = ticket_form(session, exam, ticket)
    if form is None:
        raise NotFound(f"ticket {ticket} has no form yet (a CAT form exists once its log is sent)", field="ticket")
    return form


def verify_loft_form(session: Session, actor: Actor, exam_id: int, ticket: str, item_ids: Sequence[str]) -> CandidateForm:
    """Check a form an engine delivered (its items in order) against the one the bank recorded and sealed."""
    actor.require(*READERS, Role.EXAM_ENGINE, action="verify exam forms")
    exam = get_exam_session(session, exam_id)
    form = ticket_form(session, exam, ticket)
    if form is None:
        raise NotFound(f"ticket {ticket} has no form in exam session {exam_id}", field="ticket")
    if form_hash(ticket, list(item_ids)) != form.form_hash:
        raise IntegrityFailure(f"the form delivered to {ticket} is not the one the bank sealed", field="item_ids")
    return form


def ledger_hash(session: Session, entity_id: str, action: str) -> str | None:
    """The payload hash of an exam session's newest ledger event of that action and entity."""
    return session.exec(select(AuditEvent.payload_hash).where(
        AuditEvent.entity_type == "exam_session", AuditEvent.entity_id == entity_id, AuditEvent.action == action)
        .order_by(col(AuditEvent.seq).desc())).first()


def ledger_forms(session: Session, actor: Actor, exam_id: int) -> dict[str, list[str]]:
    """Every LOFT form as the ledger vouches for it: each stored form must still hash to its event's
    payload, and the session's inputs to theirs; a form edited behind the bank's back is named."""
    actor.require(*READERS, action="see exam sessions")
    exam = get_exam_session(session, exam_id)
    version = papers.get_paper(session, exam.paper_id).provenance.get("blueprint_version", "")
    inputs = content_hash(session_inputs(exam, version))
    if inputs != exam.inputs_hash or inputs != ledger_hash(session, str(exam.id), f"exam_session.{exam.mode}"):
        raise IntegrityFailure(f"exam session {exam.id}'s inputs differ from the ledger's record", field="exam_session")
    found: dict[str, list[str]] = {}
    for form in forms(session, exam) if exam.mode == LOFT else []:
        payload = form_payload(exam, form.ticket, form.item_ids)
        if (content_hash(payload) != ledger_hash(session, f"{exam.id}/{form.ticket}", "exam_session.form")
                or payload["form_hash"] != form.form_hash):
            raise IntegrityFailure(f"the form of {form.ticket} differs from the ledger's record", field=f"forms.{form.ticket}")
        found[form.ticket] = list(form.item_ids)
    return found


def verify_forms(session: Session, actor: Actor, exam_id: int) -> pd.DataFrame:
    """The independent LOFT verifier (``assembly.verify_loft``) on the stored forms, over the active bank."""
    actor.require(*READERS, action="see exam sessions")
    exam = get_exam_session(session, exam_id)
    carrier = papers.get_paper(session, exam.paper_id)
    table = active_item_table(session, session.get(Blueprint, carrier.blueprint_id))  # type: ignore[arg-type]
    stored = [assembly.Form(f.ticket, "loft", list(f.item_ids)) for f in forms(session, exam)]
    with core_errors():
        reference = reference_from(table, assembly.load_spec(exam.spec), exam.reference_ids)
        return assembly.verify_loft(table, exam.spec, stored, reference)


def plan_reassembly(session: Session, carrier: Paper, leaked: Sequence[str]) -> SessionPlan:
    """The same session (spec, settings, tickets) solved again without the leaked items (for a leak report)."""
    exam = session_of_paper(session, carrier)
    blueprint = session.get(Blueprint, carrier.blueprint_id)
    assert blueprint is not None
    where: dict[str, Any] = {"occupation_code": blueprint.occupation_code, "level": blueprint.level, "exam_kind": blueprint.exam_kind,
             "blueprint_version": blueprint.version, "exclude": list(leaked), "name": f"{exam.name}-reassembled",
             "replaces": exam.id}
    settings = exam.settings
    if exam.mode == LOFT:
        return plan_loft(session, exam.spec, exam.tickets, max_exposure=settings["max_exposure"],
                         max_mean_overlap=settings["max_mean_overlap"], seed=settings["seed"], **where)
    return plan_cat(session, exam.spec, exam.tickets, length=settings["length"], max_exposure=settings["max_exposure"],
                    share=settings["share"], seed=settings["seed"], **where)
