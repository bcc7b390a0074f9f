"""What routes depend on: the database, the acting user, and the role check that runs before any work."""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.errors import Unauthorized
from api.worker import JobPool
from itembank.config import Settings
from itembank.db import transaction
from itembank.errors import Forbidden, NotFound
from itembank.group_commit import GroupCommit
from itembank.models import Role
from itembank.services import delivery
from itembank.services.actors import Actor
from itembank.services.users import authenticate, hash_token


class PullDecisions:
    """Earlier answers to "who holds this token?" and "may this engine pull this paper?".

    Only the package pull uses them: the one request an exam morning sends by the hundred at once,
    where reading them from the database on every pull costs more than the pull itself. They are
    hints, not decisions: ``delivery.record_pulls`` decides the whole pull again under the ledger
    lock, before any byte leaves (the engine still active, the paper still deliverable, its newest
    package still listing the engine), refuses and logs a pull that no longer passes, and hands
    back the newer package if the paper was re-sealed. So an old answer costs a refusal at worst,
    never a delivery; ``ttl`` only bounds how long a refused engine's hint can linger (a refusal
    also drops it). Refusals are never remembered: each one is logged. Used from the event loop
    only, so no lock.
    """

    def __init__(self, ttl: float = 60.0, size: int = 4096) -> None:
        self.actors: TTLCache[str, Actor] = TTLCache(size, ttl)  # by token hash, never the token itself
        self.pulls: TTLCache[tuple[str, int], delivery.Pull] = TTLCache(size, ttl)


@dataclass
class Bank:
    """The app's handle on the bank: one engine, the settings and the in-process job pool."""

    engine: Engine
    settings: Settings
    jobs: JobPool
    _sqlite_writer: threading.RLock | None = field(default=None, init=False)
    pulls: GroupCommit[delivery.Pull, delivery.Pull] = field(init=False)
    packages: delivery.PackageCache = field(init=False)
    decisions: PullDecisions = field(default_factory=PullDecisions, init=False)

    def __post_init__(self) -> None:
        if self.engine.dialect.name == "sqlite":
            self._sqlite_writer = threading.RLock()
        self.pulls = GroupCommit(self._record_pulls)
        self.packages = delivery.PackageCache(self.engine)

    async def judge_pull(self, engine: Actor, paper_id: int) -> delivery.Pull:
        """``delivery.check_pull``, or its answer of the last seconds (see :class:`PullDecisions`)."""
        key = (engine.name, paper_id)
        pull = self.decisions.pulls.get(key)
        if pull is None:
            pull = await run_in_threadpool(self._check_pull, engine, paper_id)
            self.decisions.pulls[key] = pull
        return pull

    def _check_pull(self, engine: Actor, paper_id: int) -> delivery.Pull:
        with self.read() as session:
            pull = delivery.check_pull(session, engine, paper_id)
        self.packages.get(pull.sealed_id)  # read a new package here, off the event loop
        return pull

    async def deliver(self, pull: delivery.Pull) -> bytes:
        """The package bytes, once the pull is committed to the handover ledger (with its neighbours')."""
        key = (pull.engine, pull.paper_id)
        try:
            delivered = await self.pulls.submit(pull)
        except delivery.DeliveryRefused:
            self.decisions.pulls.pop(key, None)
            self.decisions.actors.clear()  # an engine may have been deactivated: ask the database again
            raise
        if delivered != pull:  # re-sealed since it was judged
            self.decisions.pulls[key] = delivered
        return self.packages.get(delivered.sealed_id)

    def _record_pulls(self, pulls: list[delivery.Pull]) -> list[delivery.Pull | delivery.DeliveryRefused]:
        """Concurrent pulls enter the handover ledger together: one transaction, one head lock."""
        with self.transaction() as session:
            outcomes = delivery.record_pulls(session, pulls)
        for outcome in outcomes:  # a package re-sealed since the pull was judged: read it here, off the loop
            if isinstance(outcome, delivery.Pull):
                self.packages.get(outcome.sealed_id)
        return outcomes

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One business operation: the route calls a service inside it; commit on success.

        SQLite admits one writer at a time and makes the others poll with growing sleeps (up to
        100 ms each), so under load this process queues its own operations on a lock instead: same
        serial order, no sleeping. PostgreSQL takes row locks and needs none of this.
        """
        with self._sqlite_writer or nullcontext(), transaction(self.engine) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only look (authentication) that never waits for writers."""
        with Session(self.engine) as session:
            yield session


async def get_bank(request: Request) -> Bank:
    """Async on purpose, like the other pure dependencies: no I/O, so no hop to a worker thread."""
    bank = request.app.state.bank
    assert isinstance(bank, Bank)
    return bank


BankDep = Annotated[Bank, Depends(get_bank)]
_bearer = HTTPBearer(auto_error=False, description="API token issued by `itembank users add` / `itembank clients add`")


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("this endpoint needs a bearer token (Authorization: Bearer <token>)", field="authorization")
    return credentials.credentials


def _authenticate(bank: Bank, token: str) -> Actor:
    with bank.read() as session:
        try:
            return authenticate(session, token)
        except NotFound as exc:
            raise Unauthorized("unknown or inactive token", field="authorization") from exc


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_actor(bank: BankDep, credentials: Credentials) -> Actor:
    """The user or exam-engine client behind the bearer token; 401 without a known one."""
    return _authenticate(bank, _token(credentials))


async def remembered_actor(bank: BankDep, credentials: Credentials) -> Actor:
    """:func:`current_actor` through :class:`PullDecisions`: for the package pull only."""
    token = _token(credentials)
    key = hash_token(token)
    actor = bank.decisions.actors.get(key)
    if actor is None:
        actor = await run_in_threadpool(_authenticate, bank, token)
        bank.decisions.actors[key] = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
RememberedActorDep = Annotated[Actor, Depends(remembered_actor)]


def require(*roles: Role, remembered: bool = False) -> Callable[[Actor], Coroutine[Any, Any, Actor]]:
    """A dependency that refuses (403) any role not listed, before the route does any work.

    The services check roles again; this guard makes the refusal cheap and uniform, and its
    ``roles`` attribute documents who may call each route. ``remembered`` authenticates through
    :class:`PullDecisions` (only where the route's write re-checks the actor, as the pull does).
    """
    allowed = ", ".join(r.value for r in roles)

    def check(actor: Actor) -> Actor:
        if actor.role not in roles:
            raise Forbidden(f"{actor.name} ({actor.role.value}) may not use this endpoint; it needs the role {allowed}",
                            field="role")
        return actor

    async def guard(actor: ActorDep) -> Actor:
        return check(actor)

    async def remembered_guard(actor: RememberedActorDep) -> Actor:
        return check(actor)

    chosen = remembered_guard if remembered else guard
    chosen.roles = roles  # type: ignore[attr-defined]
    return chosen


BANK_STAFF = (Role.ITEM_WRITER, Role.PROOFREADER, Role.REVIEWER, Role.PANEL_MEMBER, Role.BANK_MANAGER,
              Role.PSYCHOMETRICIAN, Role.ADMIN)
"""Everyone who works on the bank's content; auditors read the ledger and engines only their papers."""
