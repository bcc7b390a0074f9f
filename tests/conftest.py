"""Shared fixtures: every database test runs on SQLite and on PostgreSQL through one parametrised engine."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import itembank.models  # noqa: F401
from itembank.db import make_engine, transaction
from itembank.models import Role
from itembank.services.actors import SYSTEM, Actor
from itembank.services.users import add_user

POSTGRES_URL = os.environ.get("ITEMBANK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SKIP_POSTGRES = os.environ.get("ITEMBANK_SKIP_POSTGRES") == "1"
BACKENDS = ["sqlite"] if SKIP_POSTGRES else ["sqlite", "postgres"]


def _postgres_admin() -> Engine:
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means the same thing here
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(exc).__name__}); start it, "
            "or set ITEMBANK_SKIP_POSTGRES=1 to run the SQLite half only",
            pytrace=False,
        )
    return engine


def new_engine(backend: str, tmp_path: Any) -> tuple[Engine, Any]:
    """A fresh, empty database of the given backend and a function that disposes of it."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/bank-{uuid.uuid4().hex[:8]}.db")
        return engine, engine.dispose
    admin = _postgres_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_size=25, max_overflow=10)

    def drop() -> None:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()

    return engine, drop


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, tmp_path: Any) -> Iterator[Engine]:
    """An empty bank with the current schema on SQLite or PostgreSQL."""
    engine, dispose = new_engine(backend, tmp_path)
    SQLModel.metadata.create_all(engine)
    yield engine
    dispose()


PANEL = [f"panel{i}" for i in range(1, 7)]
STAFF = {
    "writer": Role.ITEM_WRITER,
    "writer2": Role.ITEM_WRITER,
    "proofreader": Role.PROOFREADER,
    "reviewer": Role.REVIEWER,
    "manager": Role.BANK_MANAGER,
    "psychometrician": Role.PSYCHOMETRICIAN,
    "auditor": Role.AUDITOR,
    "engine1": Role.EXAM_ENGINE,
    "admin": Role.ADMIN,
    **{name: Role.PANEL_MEMBER for name in PANEL},
}


@pytest.fixture
def staff(engine: Engine) -> dict[str, Actor]:
    """One user per role (and six panel members), as actors."""
    return add_staff(engine)


def add_staff(engine: Engine) -> dict[str, Actor]:
    """Create the users of STAFF (admin first) and return them as actors."""
    actors = {}
    with transaction(engine) as session:
        add_user(session, SYSTEM, "admin", Role.ADMIN)
        for name, role in STAFF.items():
            if name != "admin":
                add_user(session, Actor("admin", Role.ADMIN), name, role)
            actors[name] = Actor(name, role)
    return actors


def small_blueprint_document(version: str = "1") -> dict[str, Any]:
    """A two-module blueprint small enough to reason about in a test."""
    return {
        "occupation": "企业人力资源管理师",
        "occupation_code": "4-07-03-04",
        "level": 3,
        "level_name": "三级/高级工",
        "exam_kind": "theory",
        "version": version,
        "nodes": [
            {"code": "A", "name": "职业道德", "weight": 40, "children": [
                {"code": "A-A", "name": "职业道德基本知识", "weight": 100, "children": [
                    {"code": "A-A-001", "name": "职业道德的含义", "importance": "X"},
                    {"code": "A-A-002", "name": "职业道德的特征", "importance": "Y"},
                ]},
            ]},
            {"code": "B", "name": "人力资源规划", "weight": 60, "children": [
                {"code": "B-A", "name": "工作岗位分析", "weight": 50, "children": [
                    {"code": "B-A-001", "name": "工作分析的程序", "importance": "X"},
                ]},
                {"code": "B-B", "name": "人力资源需求预测", "weight": 50, "children": [
                    {"code": "B-B-001", "name": "需求预测的方法", "importance": "X"},
                    {"code": "B-B-002", "name": "德尔菲法", "importance": "Z"},
                ]},
            ]},
        ],
    }


def item_row(n: int, element: str = "A-A-001", **overrides: Any) -> dict[str, Any]:
    """A valid single-choice row as an import file holds it."""
    row = {
        "external_id": f"T-{n:05d}", "type": "single_choice", "element": element, "points": 1,
        "stem": f"【测试】第{n}题：关于职业道德的说法，正确的是（ ）。",
        "option_A": "甲", "option_B": "乙", "option_C": "丙", "option_D": "丁", "key": "B",
        "difficulty": 3, "enemy_groups": "",
    }
    row.update(overrides)
    return row


@contextmanager
def table_locked(engine: Engine, table: str) -> Iterator[None]:
    """Another transaction holds ``table`` exclusively, and ``engine``'s transactions give up waiting for
    a lock after 200 ms (PostgreSQL): a real lock timeout, on demand."""
    def short_lock_timeout(connection: Any) -> None:
        connection.exec_driver_sql("set local lock_timeout = '200ms'")

    event.listen(engine, "begin", short_lock_timeout)
    try:
        with engine.connect() as holder:
            holder.execute(text(f"lock table {table} in access exclusive mode"))
            yield
            holder.rollback()
    finally:
        event.remove(engine, "begin", short_lock_timeout)


def hold_after(monkeypatch: pytest.MonkeyPatch, owner: object, read: str,
               pause: Callable[[], float] = lambda: 0.0) -> None:
    """Hold two concurrent operations right after ``owner.<read>`` until both have read (or 2 s have
    passed: the other may be waiting for a lock this one holds), then let each go on after ``pause()``
    seconds. Code that decides on rows read before it takes the ledger head lets both decide on the
    same state here, and the test sees the lost update; code that reads under the head runs them in turn."""
    original = getattr(owner, read)
    both_read = threading.Barrier(2, timeout=2)

    def held(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait()
        time.sleep(pause())
        return found

    monkeypatch.setattr(owner, read, held)
