"""What routes depend on: the database, the acting user, and the role check that runs before any work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.errors import Unauthorized
from api.worker import JobPool
from itembank.config import Settings
from itembank.db import transaction
from itembank.errors import Forbidden, ItemBankError, NotFound
from itembank.group_commit import GroupCommit
from itembank.models import Role
from itembank.services import delivery
from itembank.services.actors import Actor
from itembank.services.users import authenticate

log = logging.getLogger(__name__)


@dataclass
class Bank:
    """The app's handle on the bank: one engine, the settings and the in-process job pool."""

    engine: Engine
    settings: Settings
    jobs: JobPool
    _sqlite_writer: threading.RLock | None = field(default=None, init=False)
    pulls: GroupCommit[delivery.PullRequest, delivery.Pull] = field(init=False)
    packages: delivery.PackageCache = field(init=False)

    def __post_init__(self) -> None:
        if self.engine.dialect.name == "sqlite":
            self._sqlite_writer = threading.RLock()
        self.pulls = GroupCommit(self._record_pulls)
        self.packages = delivery.PackageCache(self.engine)

    async def deliver(self, request: delivery.PullRequest) -> bytes:
        """The package bytes, once the pull is decided and committed to the handover ledger together with
        the requests that arrived while the previous batch was being written (401/403/404 raised)."""
        try:
            pull = await self.pulls.submit(request)
        except delivery.UnknownClient as unknown:
            raise Unauthorized(str(unknown), field="authorization") from unknown
        return self.packages.get(pull.sealed_id)

    def _record_pulls(self, requests: list[delivery.PullRequest]) -> list[delivery.Pull | ItemBankError]:
        """Concurrent pulls are decided and enter the handover ledger together: one transaction, one head lock."""
        with self.transaction() as session:
            outcomes = delivery.record_pulls(session, requests)
        for outcome in outcomes:  # read a package new to this process here, off the event loop
            if isinstance(outcome, delivery.Pull):
                self.packages.get(outcome.sealed_id)
        return outcomes

    def rehearse_pulls(self) -> None:
        """At start-up: the pull path once, rolled back, and the active packages read into the cache
        (``delivery.rehearse_pulls`` says why). A failure only costs the first burst its head start."""
        try:
            with Session(self.engine) as session:
                active = delivery.rehearse_pulls(session)
                session.rollback()
            for sealed_id in active[: self.packages.size]:
                self.packages.get(sealed_id)
        except Exception:  # noqa: BLE001 - a warm-up must never keep the bank from serving
            log.warning("the pull path was not rehearsed at start-up; the first pulls compile it", exc_info=True)

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


def current_actor(bank: BankDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
    """The user or exam-engine client behind the bearer token; 401 without a known one."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("this endpoint needs a bearer token (Authorization: Bearer <token>)", field="authorization")
    with bank.read() as session:
        try:
            return authenticate(session, credentials.credentials)
        except NotFound as exc:
            raise Unauthorized("unknown or inactive token", field="authorization") from exc


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(*roles: Role) -> Callable[[Actor], Coroutine[Any, Any, Actor]]:
    """A dependency that refuses (403) any role not listed, before the route does any work.

    The services check roles again; this guard makes the refusal cheap and uniform, and its
    ``roles`` attribute documents who may call each route.
    """
    allowed = ", ".join(r.value for r in roles)

    async def guard(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            raise Forbidden(f"{actor.name} ({actor.role.value}) may not use this endpoint; it needs the role {allowed}",
                            field="role")
        return actor

    guard.roles = roles  # type: ignore[attr-defined]
    return guard


BANK_STAFF = (Role.ITEM_WRITER, Role.PROOFREADER, Role.REVIEWER, Role.PANEL_MEMBER, Role.BANK_MANAGER,
              Role.PSYCHOMETRICIAN, Role.ADMIN)
"""Everyone who works on the bank's content; auditors read the ledger and engines only their papers."""
