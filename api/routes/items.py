"""Items: writers create and edit them (every edit is a new version); bank staff read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import and_
from sqlmodel import Session, col, select

from api.deps import BANK_STAFF, BankDep, require
from api.paging import PageDep, paginate
from api.schemas.bank import ItemDetail, ItemEdit, ItemPublic, ItemsCreate, ItemVersionPublic
from api.schemas.common import Page
from itembank.errors import NotFound, ValidationError
from itembank.models import Blueprint, Item, ItemStatus, ItemVersion, Role
from itembank.services import items
from itembank.services.actors import Actor

router = APIRouter(prefix="/items", tags=["items"])
Staff = Annotated[Actor, Depends(require(*BANK_STAFF))]
Writer = Annotated[Actor, Depends(require(*items.WRITERS))]
Creator = Annotated[Actor, Depends(require(*items.WRITERS, Role.ADMIN))]


def _detail(session: Session, item: Item) -> ItemDetail:
    content = ItemVersionPublic.model_validate(items.current_version(session, item))
    return ItemDetail(**ItemPublic.model_validate(item).model_dump(), content=content)


@router.post("", status_code=201)
def create_items(body: ItemsCreate, bank: BankDep, actor: Creator) -> list[ItemPublic]:
    """Create items as drafts (version 1); any bad item refuses the whole batch (422 naming it)."""
    with bank.transaction() as session:
        blueprint = session.get(Blueprint, body.blueprint_id)
        if blueprint is None:
            raise NotFound(f"no blueprint {body.blueprint_id}", field="blueprint_id")
        created = items.create_items(session, actor, blueprint, list(enumerate(body.items, start=1)))
        return [ItemPublic.model_validate(i) for i in created]


@router.get("")
def list_items(
    bank: BankDep, _actor: Staff, page: PageDep,
    status: ItemStatus | None = None,
    element: Annotated[str | None, Query(max_length=40)] = None,
    occupation_code: Annotated[str | None, Query(max_length=32)] = None,
    level: Annotated[int | None, Query(ge=1, le=5)] = None,
) -> Page[ItemPublic]:
    """Items with their current status; filter by status, element, occupation and level."""
    query = select(Item)
    if status is not None:
        query = query.where(Item.status == status.value)
    if occupation_code is not None:
        query = query.where(Item.occupation_code == occupation_code)
    if level is not None:
        query = query.where(Item.level == level)
    if element is not None:
        current = and_(col(ItemVersion.item_id) == Item.id, col(ItemVersion.version) == Item.current_version)
        query = query.join(ItemVersion, current).where(ItemVersion.element == element)
    with bank.transaction() as session:
        rows, total = paginate(session, query, page, col(Item.id))
        return Page(items=[ItemPublic.model_validate(i) for i in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{external_id}")
def get_item(external_id: str, bank: BankDep, _actor: Staff) -> ItemDetail:
    """The item and its current version's content (with the key: staff only, never engines)."""
    with bank.transaction() as session:
        return _detail(session, items.get_item(session, external_id))


@router.get("/{external_id}/versions")
def item_versions(external_id: str, bank: BankDep, _actor: Staff) -> list[ItemVersionPublic]:
    """Every version, oldest first: versions are immutable, so this is the item's full history."""
    with bank.transaction() as session:
        item = items.get_item(session, external_id)
        rows = session.exec(select(ItemVersion).where(ItemVersion.item_id == item.id).order_by(col(ItemVersion.version))).all()
        return [ItemVersionPublic.model_validate(v) for v in rows]


@router.put("/{external_id}")
def edit_item(external_id: str, body: ItemEdit, bank: BankDep, actor: Writer) -> ItemDetail:
    """Make a new version (back to draft for review); 409 if someone edited it since ``expected_version``."""
    if body.content.external_id != external_id:
        raise ValidationError(f"the content is for '{body.content.external_id}', not '{external_id}'",
                              field="content.external_id")
    with bank.transaction() as session:
        items.edit_item(session, actor, external_id, body.content, expected_version=body.expected_version)
        return _detail(session, items.get_item(session, external_id))
