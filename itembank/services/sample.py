"""Loading the deterministic sample bank, and the scripted review that takes it to active.

The demo, the tests and a newcomer trying the tool all use these two functions, so a sample bank
always enters through the same validation, versioning, workflow and ledger as real items.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from itembank import audit
from itembank.blueprint import load_document
from itembank.db import transaction
from itembank.errors import NotFound
from itembank.models import Blueprint, Item, Role, TrueParameter
from itembank.records import raise_for_problems, validate_rows
from itembank.sample_bank import generate_sample_bank, shipped_blueprint_path
from itembank.services import workflow
from itembank.services.actors import Actor
from itembank.services.blueprints import find_blueprint, import_blueprint
from itembank.services.items import create_items
from itembank.services.users import add_user

HR_MANAGER = "4-07-03-04"
BATCH = 1000


def ensure_shipped_blueprint(session: Session, actor: Actor, level: int) -> Blueprint:
    """The bank's blueprint for the HR-Manager level, importing the shipped one if the bank lacks it."""
    try:
        return find_blueprint(session, HR_MANAGER, level)
    except NotFound:
        return import_blueprint(session, actor, load_document(shipped_blueprint_path(level)))


def load_sample_bank(session: Session, actor: Actor, level: int, n_items: int, seed: int) -> list[Item]:
    """Generate the seeded sample bank for a level and store it as draft items with their true parameters."""
    blueprint = ensure_shipped_blueprint(session, actor, level)
    document = load_document(shipped_blueprint_path(level))
    sample = generate_sample_bank(document, n_items, seed)
    rows = sample.items.astype(object).where(sample.items.notna(), None).to_dict("records")
    records, problems = validate_rows(enumerate(rows, start=1))
    raise_for_problems(problems, "sample bank")
    items = create_items(session, actor, blueprint, records)
    by_external = {i.external_id: cast(int, i.id) for i in items}
    truth = sample.truth.astype(object).where(sample.truth.notna(), None)
    session.add_all(
        TrueParameter(item_id=by_external[row["external_id"]], model=row["model"], a=row.get("a"), b=row.get("b"),
                      c=row.get("c"), thresholds=list(row["thresholds"]) if row.get("thresholds") is not None else None)
        for row in truth.to_dict("records")
    )
    audit.record(session, actor.name, "sample_bank.load", "bank", f"level-{level}",
                 {"items": len(items), "seed": seed, "blueprint": blueprint.id})
    session.flush()
    return items


@dataclass(frozen=True)
class ReviewCrew:
    """The scripted actors who take sample items through review: one per role and a full panel."""

    proofreader: Actor
    reviewer: Actor
    manager: Actor
    panel: tuple[Actor, ...]


def ensure_crew(session: Session, admin: Actor, panel_size: int, prefix: str = "demo") -> ReviewCrew:
    """Create (once) the scripted review crew; their tokens are not needed and never shown."""
    wanted = {f"{prefix}-proofreader": Role.PROOFREADER, f"{prefix}-reviewer": Role.REVIEWER,
              f"{prefix}-manager": Role.BANK_MANAGER,
              **{f"{prefix}-panel{i}": Role.PANEL_MEMBER for i in range(1, panel_size + 1)}}
    from itembank.models import User

    existing = set(session.exec(select(User.name).where(col(User.name).in_(list(wanted)))).all())
    for name, role in wanted.items():
        if name not in existing:
            add_user(session, admin, name, role)
    actors = {name: Actor(name, role) for name, role in wanted.items()}
    return ReviewCrew(
        proofreader=actors[f"{prefix}-proofreader"], reviewer=actors[f"{prefix}-reviewer"],
        manager=actors[f"{prefix}-manager"],
        panel=tuple(a for n, a in actors.items() if a.role == Role.PANEL_MEMBER),
    )


def scripted_review(
    engine: Engine,
    crew: ReviewCrew,
    external_ids: Sequence[str],
    progress: Callable[[str], None] | None = None,
    *,
    hold_back: Collection[str] = (),
) -> None:
    """Proofread, review, panel-sign and activate every item; each stage of each batch is one transaction.

    Items in ``hold_back`` stop at accepted: new items that are field-tested (pretested) before they go live.
    """
    held = set(hold_back)
    everyone = list(external_ids)
    going_live = [i for i in everyone if i not in held]
    stages: list[tuple[str, list[str], Callable[[Session, list[str]], object]]] = [
        ("proofread", everyone, lambda s, ids: workflow.transition(s, crew.proofreader, ids, "proofread")),
        ("review", everyone, lambda s, ids: workflow.transition(s, crew.reviewer, ids, "review")),
        *[(f"panel {m.name}", everyone, lambda s, ids, m=m: workflow.sign(s, m, ids, "approve")) for m in crew.panel],
        ("activate", going_live, lambda s, ids: workflow.transition(s, crew.manager, ids, "activate")),
    ]
    for label, ids, step in stages:
        for start in range(0, len(ids), BATCH):
            with transaction(engine) as session:
                step(session, ids[start:start + BATCH])
        if progress:
            progress(label)
