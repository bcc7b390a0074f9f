"""Users and exam-engine clients: tokens are shown once and only their hashes are stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from itembank import audit
from itembank.errors import Conflict, NotFound, ValidationError
from itembank.models import Role, User
from itembank.services.actors import Actor


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(session: Session, actor: Actor, name: str, role: Role | str) -> tuple[User, str]:
    """Create a user (or an exam-engine client) and return it with its one-time API token."""
    audit.lock_head(session)  # before the checks below: one name added twice at once is one user and one 409
    if session.exec(select(User).limit(1)).first() is not None:
        actor.require(Role.ADMIN, action="add users")
    try:
        role = Role(role)
    except ValueError as exc:
        roles = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role '{role}'; choose one of {roles}", field="role") from exc
    name = name.strip()
    if not name:
        raise ValidationError("a user needs a name", field="name")
    if session.exec(select(User).where(User.name == name)).first() is not None:
        raise Conflict(f"user '{name}' already exists", field="name")
    token = secrets.token_urlsafe(32)
    user = User(name=name, role=role, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    audit.record(session, actor.name, "user.add", "user", name, {"role": role.value})
    return user, token


def deactivate_user(session: Session, actor: Actor, name: str) -> User:
    """Revoke a user's or exam-engine client's token; the row stays (the ledger names it).

    Takes effect for every request that starts after the commit; a package pull in flight is
    refused too, since the handover write re-reads ``active`` under the ledger lock.
    """
    actor.require(Role.ADMIN, action="deactivate users")
    audit.lock_head(session)  # before the user is read: two admins at once get one deactivation and one refusal
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user '{name}'", field="name")
    if user.name == actor.name:
        raise ValidationError("an admin may not deactivate their own token (ask another admin)", field="name")
    if not user.active:
        raise Conflict(f"user '{name}' is already inactive", field="name")
    user.active = False
    session.add(user)
    session.flush()
    audit.record(session, actor.name, "user.deactivate", "user", name, {"role": user.role})
    return user


def authenticate(session: Session, token: str) -> Actor:
    """The actor behind a bearer token, or NotFound."""
    user = session.exec(select(User).where(User.token_hash == hash_token(token))).first()
    if user is None or not user.active:
        raise NotFound("unknown or inactive token", field="authorization")
    return Actor(user.name, Role(user.role))


def get_actor(session: Session, name: str) -> Actor:
    """The actor for a user name (the CLI acts as a named user)."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None or not user.active:
        raise NotFound(f"no active user '{name}'; add one with `itembank users add`", field="actor")
    return Actor(user.name, Role(user.role))
