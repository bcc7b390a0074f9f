"""Users and exam-engine clients: admins add them; everyone may see who they are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlmodel import col, select

from api.deps import ActorDep, BankDep, require
from api.paging import PageDep, paginate
from api.schemas.bank import UserCreate, UserCreated, UserPublic
from api.schemas.common import Page
from itembank.models import Role, User
from itembank.services import users
from itembank.services.actors import Actor

router = APIRouter(prefix="/users", tags=["users"])
Admin = Annotated[Actor, Depends(require(Role.ADMIN))]


@router.post("", status_code=201)
def add_user(body: UserCreate, bank: BankDep, actor: Admin) -> UserCreated:
    """Add a user or exam-engine client; the token is in this response only."""
    with bank.transaction() as session:
        user, token = users.add_user(session, actor, body.name, body.role)
        return UserCreated(**UserPublic.model_validate(user).model_dump(), token=token)


@router.get("")
def list_users(bank: BankDep, _actor: Admin, page: PageDep) -> Page[UserPublic]:
    with bank.transaction() as session:
        rows, total = paginate(session, select(User), page, col(User.id))
        return Page(items=[UserPublic.model_validate(u) for u in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/{name}/deactivate")
def deactivate_user(name: Annotated[str, Path(max_length=120)], bank: BankDep, actor: Admin) -> UserPublic:
    """Revoke a user's or exam engine's token (a lost laptop, a compromised exam site); the record stays."""
    with bank.transaction() as session:
        return UserPublic.model_validate(users.deactivate_user(session, actor, name))


@router.get("/me")
def me(bank: BankDep, actor: ActorDep) -> UserPublic:
    """Who the token belongs to (a cheap way for a client to check its token)."""
    with bank.transaction() as session:
        user = session.exec(select(User).where(User.name == actor.name)).one()
        return UserPublic.model_validate(user)
