"""Incidents from the emergency plan (应急处理预案): leak, damaged package, item error.

Each report runs as one transaction: the actions (compromise items, invalidate the paper, release a
disjoint backup to the affected engines, assemble a replacement backup, suspend and rescore) and the
incident report (cause, actions, results, who and when) land together, all in the audit ledger.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from itembank import audit
from itembank.errors import Conflict, Infeasible, NotFound, ValidationError
from itembank.models import (
    Incident,
    Item,
    ItemStatus,
    Paper,
    PaperItem,
    PaperStatus,
    Role,
    SealedPaper,
)
from itembank.models.base import as_utc, utcnow
from itembank.services import exam_sessions, workflow
from itembank.services import papers as paper_service
from itembank.services.actors import Actor
from itembank.services.delivery import (
    CARRIER_ROLES,
    advance_paper,
    invalidate_sealed,
    pretest_versions,
    seal_paper,
)
from itembank.services.responses import rescore

HANDLERS = (Role.BANK_MANAGER,)


def _item_ids(session: Session, paper: Paper) -> list[str]:
    """Every item candidates saw on the paper: its own, then its pretest block (exposed just the same)."""
    scored = session.exec(select(Item.external_id).join(PaperItem, col(PaperItem.item_id) == col(Item.id))
                          .where(PaperItem.paper_id == paper.id).order_by(col(PaperItem.position))).all()
    return [*scored, *(item.external_id for item, _ in pretest_versions(session, paper))]


def _window(session: Session, paper: Paper, window: tuple[datetime, datetime] | None) -> tuple[datetime, datetime]:
    if window is not None:
        return window
    sealed = session.exec(select(SealedPaper).where(SealedPaper.paper_id == paper.id)
                          .order_by(col(SealedPaper.id).desc())).first()
    if sealed is not None and sealed.not_before and sealed.not_after:
        return as_utc(sealed.not_before), as_utc(sealed.not_after)  # type: ignore[return-value]
    start = utcnow() + timedelta(minutes=30)
    return start, start + timedelta(minutes=paper.duration_minutes)


def _record(session: Session, actor: Actor, kind: str, paper: Paper | None, scope: dict[str, Any], cause: str,
            actions: list[str], results: dict[str, Any]) -> Incident:
    now = utcnow()
    incident = Incident(kind=kind, paper_id=paper.id if paper else None, scope=scope, cause=cause, status="closed",
                        actions=actions, created_by=actor.name, closed_at=now,
                        report={"cause": cause, "actions": actions, "results": results, "reported_by": actor.name,
                                "at": now.isoformat(), "paper": paper.name if paper else None, "scope": scope})
    session.add(incident)
    session.flush()
    audit.record(session, actor.name, f"incident.{kind}", "incident", str(incident.id), incident.report)
    return incident


def report_leak(
    session: Session,
    actor: Actor,
    paper_id: int | str,
    scope: dict[str, Any],
    cause: str,
    *,
    window: tuple[datetime, datetime] | None = None,
    assemble_replacement: bool = True,
) -> Incident:
    """A paper leaked: compromise its items, invalidate it for the scope, release a disjoint backup to the
    affected engines, and assemble a replacement backup so one is always in hand.

    A LOFT package or CAT pool (an exam session's carrier paper) has no backup: its session is solved
    again for the same tickets without the leaked items, as a new draft session to approve and seal.
    """
    actor.require(*HANDLERS, action="handle incidents")
    if not cause.strip():
        raise ValidationError("an incident needs its cause", field="cause")
    engines = list(scope.get("engines") or [])
    if not engines:
        raise ValidationError("the scope names no affected exam engine", field="scope.engines")
    paper = paper_service.get_paper(session, paper_id)
    if paper.status == PaperStatus.INVALIDATED.value:
        raise Conflict(f"paper {paper.name} is already invalidated", field="paper")
    leaked = _item_ids(session, paper)
    carrier = paper.role in CARRIER_ROLES
    backup = None if carrier else _disjoint_backup(session, paper, set(leaked))
    if backup is None and not assemble_replacement:
        raise Infeasible(f"no disjoint backup of {paper.name} is left and no replacement was asked for", field="backup")
    # The replacement is solved before this transaction writes anything: the solver may run for its whole
    # time limit, and from the first write on this transaction holds the ledger head, which every pull and
    # key release waits for (the backup's engines among them). It avoids the backup about to be released.
    replacement = (_replacement(session, actor, paper, _item_ids(session, backup) if backup else [])
                   if assemble_replacement and not carrier else None)
    reassembly = exam_sessions.plan_reassembly(session, paper, leaked) if assemble_replacement and carrier else None
    actions: list[str] = []
    audit.lock_head(session)  # what is decided from here on holds until commit (docs/architecture.md)
    compromisable = [external_id for external_id, status in session.exec(
        select(Item.external_id, Item.status).where(col(Item.external_id).in_(leaked))).all()
        if status in workflow.TRANSITIONS["compromise"].sources]
    if compromisable:
        workflow.transition(session, actor, compromisable, "compromise", reason=f"leak of paper {paper.name}: {cause}")
    actions.append(f"marked {len(compromisable)} item(s) of {paper.name} compromised")
    start, end = _window(session, paper, window)
    withdrawn = invalidate_sealed(session, paper.id)  # type: ignore[arg-type]
    paper.invalidated_scope = [*paper.invalidated_scope, scope]
    session.add(paper)
    if not advance_paper(session, paper, PaperStatus.INVALIDATED,
                         from_statuses=frozenset(PaperStatus) - {PaperStatus.INVALIDATED}):
        raise Conflict(f"paper {paper.name} was invalidated by a concurrent report; nothing was changed", field="paper")
    actions.append(f"invalidated {paper.name} for {scope} and withdrew {withdrawn} sealed package(s)")

    results: dict[str, Any] = {"compromised_items": len(compromisable), "invalidated_paper": paper.name}
    sharing = _papers_sharing(session, paper, leaked)
    if sharing:
        actions.append(f"found {len(sharing)} other paper(s) holding leaked items, which can no longer be approved or "
                       f"sealed: {', '.join(sorted(sharing))}")
        results["papers_sharing_leaked_items"] = sharing
    if backup is not None:
        if backup.status == PaperStatus.DRAFT.value:
            paper_service.approve_paper(session, actor, backup.id)  # type: ignore[arg-type]
        sealed = seal_paper(session, actor, backup.id, not_before=start, not_after=end, engines=engines)  # type: ignore[arg-type]
        actions.append(f"released backup {backup.name} (sealed package {sealed.id}) to {', '.join(engines)}")
        results["released_backup"] = backup.name
    if replacement is not None:
        actions.append(f"assembled replacement backup {replacement.name} (draft, awaiting approval)")
        results["replacement_backup"] = replacement.name
    if reassembly is not None:
        exam = exam_sessions.store_plan(session, actor, reassembly)
        actions.append(f"re-assembled exam session {exam.name} for its {len(exam.tickets)} ticket(s) without the "
                       f"leaked items (carrier paper {exam.paper_id}, draft, awaiting approval)")
        results["reassembled_session"] = exam.id
    return _record(session, actor, "leak", paper, scope, cause, actions, results)


def _papers_sharing(session: Session, leaked: Paper, items: list[str]) -> dict[str, list[str]]:
    """Papers not yet administered, other than the leaked one, that hold some of its items (by paper name).

    They stay as they are (the scope of a leak is the office's decision) but are named in the report:
    a sealed one would deliver leaked content, and none of them can be approved or sealed again.
    """
    rows = session.exec(
        select(Paper.name, Item.external_id).join(PaperItem, col(PaperItem.paper_id) == col(Paper.id))
        .join(Item, col(Item.id) == col(PaperItem.item_id))
        .where(col(Item.external_id).in_(items), Paper.id != leaked.id,
               col(Paper.status).in_([s.value for s in (PaperStatus.DRAFT, PaperStatus.APPROVED, PaperStatus.SEALED,
                                                        PaperStatus.RELEASED)]))
        .order_by(col(Paper.name), col(Item.external_id))
    ).all()
    sharing: dict[str, list[str]] = {}
    for name, external_id in rows:
        sharing.setdefault(name, []).append(external_id)
    return sharing


def _disjoint_backup(session: Session, leaked: Paper, leaked_items: set[str]) -> Paper | None:
    """An approved or sealed backup sharing no item with the leaked paper and holding no compromised item."""
    candidates = session.exec(
        select(Paper).where(Paper.role == "backup",
                            col(Paper.status).in_([PaperStatus.DRAFT.value, PaperStatus.APPROVED.value,
                                                   PaperStatus.SEALED.value]))
        .order_by(col(Paper.assembly_run_id) != leaked.assembly_run_id, col(Paper.id))
    ).all()
    for candidate in candidates:
        items = session.exec(select(Item).join(PaperItem, col(PaperItem.item_id) == col(Item.id))
                             .where(PaperItem.paper_id == candidate.id)).all()
        if all(i.status == ItemStatus.ACTIVE.value and i.external_id not in leaked_items for i in items):
            return candidate
    return None


def _replacement(session: Session, actor: Actor, leaked: Paper, backup_items: list[str]) -> Paper:
    """Assemble one new backup with the leaked paper's spec, disjoint from every paper in use and from the
    backup being released (which may not be in use yet)."""
    run = session.get(paper_service.AssemblyRun, leaked.assembly_run_id) if leaked.assembly_run_id else None
    if run is None:
        raise NotFound(f"paper {leaked.name} has no assembly run to take a spec from", field="paper")
    blueprint = session.get(paper_service.Blueprint, run.blueprint_id)
    spec = {**run.spec, "forms": {"main": 1, "backup": 0}, "disjoint_from": []}
    in_use = list(paper_service.papers_in_use(session).values())
    outcome = paper_service.assemble(
        session, actor, spec, occupation_code=blueprint.occupation_code, level=blueprint.level,  # type: ignore[union-attr]
        exam_kind=blueprint.exam_kind, blueprint_version=blueprint.version,  # type: ignore[union-attr]
        disjoint_from=[*in_use, _item_ids(session, leaked), backup_items], name=f"{run.spec_name}-replacement",
    )
    (paper,) = outcome.papers
    paper.role = "backup"
    paper.name = paper.name.removesuffix("main-1") + "backup-1"
    session.add(paper)
    session.flush()
    return paper


def report_damage(session: Session, actor: Actor, paper_id: int | str, scope: dict[str, Any], cause: str,
                  *, window: tuple[datetime, datetime] | None = None) -> Incident:
    """A package was damaged or went missing: seal the same paper again for the affected engines (re-release)."""
    actor.require(*HANDLERS, action="handle incidents")
    engines = list(scope.get("engines") or [])
    if not engines:
        raise ValidationError("the scope names no affected exam engine", field="scope.engines")
    paper = paper_service.get_paper(session, paper_id)
    start, end = _window(session, paper, window)
    if paper.status != PaperStatus.APPROVED.value:
        advance_paper(session, paper, PaperStatus.APPROVED, from_statuses=frozenset(
            {PaperStatus.SEALED, PaperStatus.RELEASED}))
    sealed = seal_paper(session, actor, paper.id, not_before=start, not_after=end, engines=engines)  # type: ignore[arg-type]
    actions = [f"re-sealed {paper.name} as package {sealed.id} for {', '.join(engines)}; older packages withdrawn"]
    return _record(session, actor, "damage", paper, scope, cause, actions, {"package": sealed.id})


def report_item_error(session: Session, actor: Actor, paper_id: int | str, item_external_id: str, action: str,
                      cause: str) -> Incident:
    """An item was found wrong during the exam: suspend it, apply the scoring decision and rescore the paper."""
    actor.require(*HANDLERS, action="handle incidents")
    audit.lock_head(session)  # before the item is read: its status decides the suspension (docs/architecture.md)
    paper = paper_service.get_paper(session, paper_id)
    item = session.exec(select(Item).where(Item.external_id == item_external_id)).first()
    if item is None or item_external_id not in _item_ids(session, paper):
        raise ValidationError(f"item {item_external_id} is not in paper {paper.name}", field="item")
    actions = []
    if item.status == ItemStatus.ACTIVE.value:
        workflow.transition(session, actor, [item_external_id], "suspend", reason=f"error found in exam: {cause}")
        actions.append(f"suspended {item_external_id} for correction")
    results = rescore(session, actor, paper.id, item_external_id, action)  # type: ignore[arg-type]
    actions.append(f"rescored {paper.name} with policy '{action}' for {len(results)} candidate(s)")
    summary = {"candidates": len(results), "pass_rate": float(results["passed"].mean()) if len(results) else None}
    return _record(session, actor, "item_error", paper, {"item": item_external_id}, cause, actions, summary)


def list_incidents(session: Session, actor: Actor) -> list[Incident]:
    actor.require(Role.BANK_MANAGER, Role.AUDITOR, action="see incidents")
    return list(session.exec(select(Incident).order_by(col(Incident.id))).all())
