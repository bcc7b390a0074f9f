"""A passing refusal by the database (deadlock, lock timeout, a locked SQLite file) is ``Busy``: rolled back whole, retryable."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from itembank.db import make_engine, transaction
from itembank.errors import Busy
from itembank.models import Role, User
from itembank.services.actors import SYSTEM
from itembank.services.users import add_user
from tests.conftest import table_locked
from tests.itembank.test_delivery import POSTGRES_ONLY


@POSTGRES_ONLY
def test_a_deadlock_between_two_operations_fails_one_as_busy_and_stores_nothing_of_it(engine: Engine) -> None:
    with transaction(engine) as session:
        add_user(session, SYSTEM, "a", Role.ADMIN)
        add_user(session, SYSTEM, "b", Role.ADMIN)
    both_locked = threading.Barrier(2, timeout=30)
    outcomes: dict[str, BaseException | None] = {}

    def rename(first: str, second: str) -> None:
        """Lock ``first``'s row, wait for the other thread to lock its row, then ask for the other's."""
        try:
            with transaction(engine) as session:
                for n, name in enumerate((first, second)):
                    session.execute(text("update users set token_hash = :mark where name = :name"),
                                    {"mark": f"{first} first: {name}", "name": name})
                    if n == 0:
                        both_locked.wait()
            outcomes[first] = None
        except BaseException as error:  # noqa: BLE001 - the test inspects both outcomes
            outcomes[first] = error

    threads = [threading.Thread(target=rename, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    failed = [name for name, error in outcomes.items() if error is not None]
    assert len(outcomes) == 2 and len(failed) == 1, outcomes
    error = outcomes[failed[0]]
    assert isinstance(error, Busy) and error.code == "busy"
    assert "deadlock" in error.message and "nothing was stored" in error.message
    winner = next(name for name in outcomes if name not in failed)
    with transaction(engine) as session:
        marks = set(session.exec(select(User.token_hash).where(User.name.in_(["a", "b"]))).all())  # type: ignore[attr-defined]
    assert marks == {f"{winner} first: a", f"{winner} first: b"}, "the winner's change alone"


def test_a_locked_sqlite_file_is_busy_not_a_bug(tmp_path: Path) -> None:
    path = tmp_path / "bank.db"
    engine = make_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 0.1})
    SQLModel.metadata.create_all(engine)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin immediate")  # another process holds the write lock
    try:
        with pytest.raises(Busy, match="locked by another writer.*nothing was stored"), transaction(engine) as session:
            add_user(session, SYSTEM, "admin", Role.ADMIN)
    finally:
        holder.execute("rollback")
        holder.close()
    with transaction(engine) as session:
        add_user(session, SYSTEM, "admin", Role.ADMIN)  # the same request again, once the lock is gone
        assert [u.name for u in session.exec(select(User)).all()] == ["admin"]
    engine.dispose()


@POSTGRES_ONLY
def test_a_lock_timeout_is_busy(engine: Engine) -> None:
    with table_locked(engine, "users"), pytest.raises(Busy, match="a lock held by a concurrent operation"), \
            transaction(engine) as session:
        add_user(session, SYSTEM, "admin", Role.ADMIN)
    with transaction(engine) as session:
        add_user(session, SYSTEM, "admin", Role.ADMIN)
