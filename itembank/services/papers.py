"""Papers drawn from the bank (组卷): assemble, store with provenance, approve, show and export.

Assembly reads only active items and operational parameters, stores every paper as a draft with the spec,
blueprint version, bank snapshot hash and solver figures in one transaction, and changes nothing else
until a paper is approved.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd
from sqlmodel import Session, col, select

import assembly
from assembly.spec import SolverSettings
from itembank import audit
from itembank.errors import Conflict, Infeasible, NotFound, ValidationError
from itembank.models import (
    AssemblyRun,
    Blueprint,
    Item,
    ItemVersion,
    Paper,
    PaperItem,
    PaperStatus,
    Role,
)
from itembank.models.base import utcnow
from itembank.progress import Progress, silent, ticking
from itembank.services.actors import Actor
from itembank.services.blueprints import find_blueprint
from itembank.services.delivery import PRETEST, advance_paper, refuse_compromised
from itembank.services.supply import active_item_table, snapshot_hash

MANAGERS = (Role.BANK_MANAGER,)
PAPER_READERS = (Role.BANK_MANAGER, Role.AUDITOR, Role.PSYCHOMETRICIAN, Role.ADMIN)
IN_USE = (PaperStatus.APPROVED, PaperStatus.SEALED, PaperStatus.RELEASED, PaperStatus.ADMINISTERED)


@dataclass
class AssemblyOutcome:
    """What one assembly produced: the stored run, its draft papers and the core's full result."""

    run: AssemblyRun
    papers: list[Paper]
    result: assembly.AssemblyResult


def load_spec_document(spec: dict[str, Any] | str | Path) -> dict[str, Any]:
    """The spec as a validated plain dict (YAML/JSON file or dict), errors naming the field."""
    try:
        return assembly.load_spec(spec).model_dump(mode="json")
    except assembly.SpecError as exc:
        raise ValidationError(str(exc), field=getattr(exc, "field", None) or "spec") from exc


def assemble_table(table: pd.DataFrame, document: dict[str, Any]) -> assembly.AssemblyResult:
    """Run the assembly core on an item table, its errors in the bank's terms: a bad table is a
    ``ValidationError`` naming the column, papers that fail verification an ``Infeasible``."""
    try:
        return assembly.assemble(table, document)
    except assembly.ItemTableError as exc:
        raise ValidationError(str(exc), field=exc.column or "items") from exc
    except assembly.RejectedSolution as exc:
        raise Infeasible(f"the solver's papers failed independent verification and were refused: {exc}",
                         field="solver") from exc


def require_papers(result: assembly.AssemblyResult) -> assembly.AssemblyResult:
    """The result, if it holds papers; else ``Infeasible`` with the diagnosis sentences (or the
    solver's message when no diagnosis was made, e.g. the time limit ran out before any paper)."""
    if not result.ok or not result.forms:
        sentences = "; ".join(result.diagnosis) or result.message or f"solver status {result.status}"
        raise Infeasible(f"the spec cannot be met: {sentences}", field="spec",
                         details={"diagnosis": result.diagnosis, "conflicts": result.conflicts})
    return result


def assemble(
    session: Session,
    actor: Actor,
    spec: dict[str, Any] | str | Path,
    *,
    occupation_code: str = "4-07-03-04",
    level: int = 3,
    exam_kind: str = "theory",
    blueprint_version: str | None = None,
    exclude: list[str] | None = None,
    disjoint_from: list[list[str]] | None = None,
    name: str | None = None,
    progress: Progress = silent,
) -> AssemblyOutcome:
    """Assemble every main and backup paper of ``spec`` from the active bank and store them as drafts.

    ``progress`` hears 0.1 once the bank is read, then a clock toward 0.9 over the solver's time
    limit (the solve reports nothing itself), then 0.95 before the papers are stored; all before
    this transaction writes anything, so a progress report never waits on it.
    """
    actor.require(*MANAGERS, action="assemble papers")
    document = load_spec_document(spec)
    document["exclude"] = sorted(set(document.get("exclude", [])) | set(exclude or []))
    document["disjoint_from"] = [*document.get("disjoint_from", []), *(disjoint_from or [])]
    blueprint = find_blueprint(session, occupation_code, level, exam_kind, blueprint_version)
    table = active_item_table(session, blueprint)
    if table.empty:
        raise Infeasible(f"the bank has no active items for {occupation_code} level {level} {exam_kind}", field="bank")
    progress(0.1)
    with ticking(progress, 0.1, 0.9, _time_limit(document)):
        result = require_papers(assemble_table(table, document))
    progress(0.95)
    run = AssemblyRun(
        spec_name=document.get("name", "paper"), spec=document, blueprint_id=blueprint.id,
        bank_snapshot_hash=snapshot_hash(table), status=result.status,
        result={k: v for k, v in result.to_dict().items() if k in
                ("status", "objective", "best_bound", "gap", "solver", "solve_time", "build_time", "seed")},
        created_by=actor.name,
    )
    session.add(run)
    session.flush()
    versions = current_versions(session, [i for f in result.forms for i in f.item_ids])
    papers = [store_paper(session, actor, run, blueprint, form, versions, table, name) for form in result.forms]
    audit.record(session, actor.name, "assembly.run", "assembly_run", str(run.id),
                 {"spec": document, "snapshot": run.bank_snapshot_hash, "status": result.status,
                  "papers": [p.name for p in papers]})
    session.flush()
    return AssemblyOutcome(run, papers, result)


def _time_limit(document: dict[str, Any]) -> float:
    """The solver's time limit as the spec sets it (or the spec's default), for the progress clock."""
    limit = (document.get("solver") or {}).get("time_limit")
    return float(limit) if isinstance(limit, int | float) and limit > 0 else SolverSettings().time_limit


def current_versions(session: Session, external_ids: list[str]) -> dict[str, tuple[int, int]]:
    rows = session.exec(select(Item.external_id, Item.id, Item.current_version)
                        .where(col(Item.external_id).in_(external_ids))).all()
    return {ext: (cast(int, item_id), version) for ext, item_id, version in rows}


def store_paper(session: Session, actor: Actor, run: AssemblyRun, blueprint: Blueprint, form: assembly.Form,
                 versions: dict[str, tuple[int, int]], table: pd.DataFrame, name: str | None) -> Paper:
    by_id = table.set_index("item_id")
    paper = Paper(
        name=f"{name or run.spec_name}-r{run.id}-{form.name}", role=form.role, assembly_run_id=run.id,
        blueprint_id=blueprint.id, total_points=float(by_id.loc[form.item_ids, "points"].sum()),
        provenance={"spec": run.spec_name, "blueprint_version": blueprint.version,
                    "bank_snapshot_hash": run.bank_snapshot_hash, "solver": run.result, "form": form.name},
        created_by=actor.name,
    )
    session.add(paper)
    session.flush()
    session.add_all(
        PaperItem(paper_id=paper.id, position=position, item_id=versions[ext][0], version=versions[ext][1],  # type: ignore[arg-type]
                  section=str(by_id.at[ext, "type"]), points=float(by_id.at[ext, "points"]))
        for position, ext in enumerate(form.item_ids, start=1)
    )
    audit.record(session, actor.name, "paper.create", "paper", paper.name,
                 {"role": form.role, "items": form.item_ids, "run": run.id})
    return paper


def get_paper(session: Session, paper_id: int | str) -> Paper:
    """A paper by numeric id or by name."""
    paper = session.get(Paper, int(paper_id)) if str(paper_id).isdigit() else \
        session.exec(select(Paper).where(Paper.name == str(paper_id))).first()
    if paper is None:
        raise NotFound(f"no paper '{paper_id}'", field="paper")
    return paper


def approve_paper(session: Session, actor: Actor, paper_id: int | str) -> Paper:
    """Approve a draft paper; a concurrent change of the same paper makes this a Conflict, never a lost update."""
    actor.require(*MANAGERS, action="approve papers")
    paper = get_paper(session, paper_id)
    if paper.status != PaperStatus.DRAFT.value:
        raise Conflict(f"paper {paper.name} is {paper.status}; only draft papers can be approved", field="status")
    advance_paper(session, paper, PaperStatus.APPROVED, expected_lock_version=paper.lock_version)
    refuse_compromised(session, paper)
    paper.approved_by, paper.approved_at = actor.name, utcnow()
    session.add(paper)
    audit.record(session, actor.name, "paper.approve", "paper", paper.name, {"lock_version": paper.lock_version})
    session.flush()
    return paper


def list_papers(session: Session, actor: Actor, status: str | None = None) -> list[Paper]:
    actor.require(*PAPER_READERS, action="see papers")
    query = select(Paper).order_by(col(Paper.id))
    if status:
        query = query.where(Paper.status == status)
    return list(session.exec(query).all())


def paper_items(session: Session, actor: Actor, paper_id: int | str) -> pd.DataFrame:
    """The paper's items in order, with content and answer keys (bank staff only)."""
    actor.require(*PAPER_READERS, action="see paper contents")
    paper = get_paper(session, paper_id)
    rows = session.exec(
        select(PaperItem, Item.external_id, ItemVersion)
        .join(Item, col(Item.id) == col(PaperItem.item_id))
        .join(ItemVersion, (col(ItemVersion.item_id) == col(PaperItem.item_id)) & (col(ItemVersion.version) == col(PaperItem.version)))
        .where(PaperItem.paper_id == paper.id).order_by(col(PaperItem.position))
    ).all()
    return pd.DataFrame([{"position": pi.position, "item_id": ext, "version": pi.version, "section": pi.section,
                          "points": pi.points, "element": v.element, "stem": v.stem, "options": v.options,
                          "key": v.key, "rubric": v.rubric} for pi, ext, v in rows])


def papers_in_use(session: Session) -> dict[str, list[str]]:
    """Item ids of every paper approved or further along and not invalidated, its pretest block included:
    what new backups must avoid."""
    rows = session.exec(
        select(Paper.name, Item.external_id).join(PaperItem, col(PaperItem.paper_id) == col(Paper.id))
        .join(Item, col(Item.id) == col(PaperItem.item_id))
        .where(col(Paper.status).in_([s.value for s in IN_USE]))
    ).all()
    used: dict[str, list[str]] = {}
    for name, ext in rows:
        used.setdefault(name, []).append(ext)
    for paper in session.exec(select(Paper).where(col(Paper.status).in_([s.value for s in IN_USE]))).all():
        used.setdefault(paper.name, []).extend(b["item_id"] for b in paper.provenance.get(PRETEST, []))
    return used


SECTION_TITLES = {"single_choice": "单项选择题", "multiple_choice": "多项选择题", "true_false": "判断题",
                  "short_answer": "简答题", "calculation": "计算题", "case_analysis": "案例分析题",
                  "plan_design": "方案设计题"}


def export_paper(session: Session, actor: Actor, paper_id: int | str, path: str | Path) -> Path:
    """Export to JSON, or to a printable HTML layout (uniform header, sections by type, key on a separate page)."""
    paper = get_paper(session, paper_id)
    items = paper_items(session, actor, paper_id)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        body = {"paper": paper.model_dump(mode="json"), "items": items.to_dict("records")}
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    elif path.suffix.lower() in (".html", ".htm"):
        path.write_text(_html(paper, items), encoding="utf-8")
    else:
        raise ValidationError(f"{path.name}: export to .json or .html", field="path")
    audit.record(session, actor.name, "paper.export", "paper", paper.name, {"format": path.suffix.lower()})
    return path


def _html(paper: Paper, items: pd.DataFrame) -> str:
    esc = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>{esc(paper.name)}</title>",
             "<style>body{font-family:serif;max-width:48em;margin:auto}h1,h2{text-align:center}"
             ".key{page-break-before:always}</style>",
             f"<h1>{esc(paper.name)}</h1><p style='text-align:center'>满分 {paper.total_points:g} 分 · "
             f"考试时间 {paper.duration_minutes} 分钟 · 卷别 {esc(paper.role)}</p>"]
    number = 0
    for section, group in items.groupby("section", sort=False):
        parts.append(f"<h2>{esc(SECTION_TITLES.get(str(section), str(section)))}"
                     f"（共 {len(group)} 题，{group['points'].sum():g} 分）</h2><ol start='{number + 1}'>")
        for row in group.itertuples():
            options = "".join(f"<div>{esc(k)}. {esc(str(v))}</div>" for k, v in (row.options or {}).items())
            parts.append(f"<li>{esc(row.stem)}（{row.points:g} 分）{options}</li>")
        parts.append("</ol>")
        number += len(group)
    parts.append("<div class='key'><h2>参考答案（单独保管）</h2><ol>")
    parts += [f"<li>{esc(str(row.key or row.rubric or ''))}</li>" for row in items.itertuples()]
    parts.append("</ol></div>")
    return "".join(parts)
