"""Creating items and their immutable versions, item sets and enemy groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from itembank import audit
from itembank.db import insert_rows
from itembank.errors import Conflict, NotFound
from itembank.hashing import content_hash
from itembank.models import (
    Blueprint,
    BlueprintNode,
    EnemyGroup,
    EnemyMember,
    Item,
    ItemSet,
    ItemStatus,
    ItemVersion,
    Role,
)
from itembank.models.base import utcnow
from itembank.records import ItemRecord, RowProblem, raise_for_problems
from itembank.services.actors import Actor

WRITERS = (Role.ITEM_WRITER, Role.BANK_MANAGER)
EDITABLE = {
    ItemStatus.DRAFT, ItemStatus.PROOFREAD, ItemStatus.REVIEWED, ItemStatus.ACCEPTED,
    ItemStatus.ACTIVE, ItemStatus.SUSPENDED,
}


def element_codes(session: Session, blueprint_id: int) -> set[str]:
    """Codes of the blueprint's elements (leaves)."""
    nodes = session.exec(select(BlueprintNode.code, BlueprintNode.parent_code).where(BlueprintNode.blueprint_id == blueprint_id)).all()
    parents = {p for _, p in nodes if p}
    return {c for c, _ in nodes if c not in parents}


def create_items(
    session: Session,
    actor: Actor,
    blueprint: Blueprint,
    records: Sequence[tuple[int, ItemRecord]],
    *,
    status: ItemStatus = ItemStatus.DRAFT,
) -> list[Item]:
    """Store new items (version 1) keyed to the blueprint; any bad record refuses them all."""
    actor.require(*WRITERS, Role.ADMIN, action="create items")
    assert blueprint.id is not None
    head = audit.lock_head(session)  # before the existing ids, sets and enemy groups are read: imports at once take turns
    elements = element_codes(session, blueprint.id)
    ids = [r.external_id for _, r in records]
    existing = set(session.exec(select(Item.external_id).where(col(Item.external_id).in_(ids))).all()) if ids else set()
    problems = [
        RowProblem(n, "element", f"'{r.element}' is not an element of blueprint {blueprint.occupation_code} level {blueprint.level} v{blueprint.version}")
        for n, r in records if r.element not in elements
    ] + [RowProblem(n, "external_id", f"'{r.external_id}' is already in the bank") for n, r in records if r.external_id in existing]
    raise_for_problems(sorted(problems, key=lambda p: p.row))

    sets = _item_sets(session, records)
    items = [
        Item(
            external_id=r.external_id,
            occupation_code=blueprint.occupation_code,
            level=blueprint.level,
            exam_kind=blueprint.exam_kind,
            status=status,
            set_id=sets[r.set_id].id if r.set_id else None,
        )
        for _, r in records
    ]
    session.add_all(items)
    session.flush()
    # versions and enemy memberships as plain rows: an import of thousands skips building ORM objects
    insert_rows(session, ItemVersion, [_version_row(item, record, 1, actor) for item, (_, record) in zip(items, records, strict=True)])
    _enemies(session, items, [r for _, r in records])
    audit.record_many(session, [  # one head lock for the whole import, not one per item
        audit.Entry(actor.name, "item.create", "item", item.external_id, record.model_dump(mode="json"))
        for item, (_, record) in zip(items, records, strict=True)
    ], head)
    session.flush()
    return items


def _version_row(item: Item, record: ItemRecord, number: int, actor: Actor) -> dict[str, Any]:
    """The columns of one version of ``item`` holding ``record``'s content."""
    assert item.id is not None
    return {
        "item_id": item.id, "version": number, "type": record.type.value, "element": record.element,
        "points": record.points, "stem": record.stem, "options": record.options, "key": record.key,
        "rubric": record.rubric, "difficulty": record.difficulty, "content_hash": content_hash(record.content()),
        "created_by": actor.name, "created_at": utcnow(),
    }


def _item_sets(session: Session, records: Sequence[tuple[int, ItemRecord]]) -> dict[str, ItemSet]:
    names = {r.set_id: r.stimulus or "" for _, r in records if r.set_id}
    if not names:
        return {}
    found = {s.external_id: s for s in session.exec(select(ItemSet).where(col(ItemSet.external_id).in_(list(names)))).all()}
    new = [ItemSet(external_id=name, stimulus=stimulus) for name, stimulus in names.items() if name not in found]
    session.add_all(new)
    session.flush()
    found.update({s.external_id: s for s in new})
    return found


def _enemies(session: Session, items: Sequence[Item], records: Sequence[ItemRecord]) -> None:
    names = {g for r in records for g in r.enemy_groups}
    if not names:
        return
    groups = {g.name: g for g in session.exec(select(EnemyGroup).where(col(EnemyGroup.name).in_(list(names)))).all()}
    new = [EnemyGroup(name=n) for n in names if n not in groups]
    session.add_all(new)
    session.flush()
    groups.update({g.name: g for g in new})
    insert_rows(session, EnemyMember, [
        {"group_id": groups[g].id, "item_id": item.id}
        for item, record in zip(items, records, strict=True)
        for g in record.enemy_groups
    ])


def get_item(session: Session, external_id: str) -> Item:
    item = session.exec(select(Item).where(Item.external_id == external_id)).first()
    if item is None:
        raise NotFound(f"no item '{external_id}' in the bank", field="item")
    return item


def current_version(session: Session, item: Item) -> ItemVersion:
    version = session.exec(
        select(ItemVersion).where(ItemVersion.item_id == item.id, ItemVersion.version == item.current_version)
    ).one()
    return version


def edit_item(session: Session, actor: Actor, external_id: str, record: ItemRecord, *, expected_version: int | None = None) -> ItemVersion:
    """Any edit makes a new version that goes back to draft for review; old versions stay as they were."""
    actor.require(*WRITERS, action="edit items")
    audit.lock_head(session)  # before the item's row (the bank's one lock order), and the checks below hold
    item = get_item(session, external_id)
    if item.status not in EDITABLE:
        raise Conflict(f"item {external_id} is {item.status} and can no longer be edited", field="status")
    if expected_version is not None and expected_version != item.current_version:
        raise Conflict(
            f"item {external_id} is at version {item.current_version}, not {expected_version}: someone edited it meanwhile",
            field="version",
        )
    new_number = item.current_version + 1
    version = ItemVersion(**_version_row(item, record, new_number, actor))
    session.add(version)
    item.current_version = new_number
    item.status = ItemStatus.DRAFT
    item.status_reason = f"edited by {actor.name}"
    item.lock_version += 1
    session.add(item)
    audit.record(session, actor.name, "item.edit", "item", external_id, {"version": new_number, "hash": version.content_hash})
    session.flush()
    return version
